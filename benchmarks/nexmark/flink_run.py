"""Runs Nexmark queries on Apache Flink 2.3 (PyFlink) over event files written by stc.

Run by bench.py with the venv of tools/flink-golden:
    /var/tmp/stc-flink-venv/bin/python benchmarks/nexmark/flink_run.py P EVENTS_DIR QUERY...

All queries run in one JVM (a local MiniCluster per job) at parallelism P. Each query's nexmark
table is rewritten to read the JSON files in EVENTS_DIR (see nexmark_sql.with_file_source);
everything else is the committed query. Prints one JSON object per query:
    {"query", "parallelism", "job_s", "cpu_s", "rss_mb"} or {"query", "parallelism", "error"}
job_s: from submitting the INSERT to the end of the job (JVM start-up excluded); cpu_s: user +
system CPU time the JVM used meanwhile (/proc/<pid>/stat); rss_mb: the JVM's peak resident set
during the job (VmHWM, reset before each job through /proc/<pid>/clear_refs).
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import nexmark_sql  # noqa: E402
from flink_golden import apply_set_statement, java_error_text, split_statements  # noqa: E402

from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def jvm_pids():
    """The java processes below this Python process (PyFlink's gateway JVM)."""
    me = os.getpid()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and b"java" in cmd:
            pids.append(int(d))
    return pids


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid):
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
    except OSError:
        pass  # not permitted: the peak then covers the whole JVM lifetime


def run_query(query, parallelism, events_dir):
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", str(parallelism))
    conf.set("table.local-time-zone", "UTC")
    sql = nexmark_sql.with_file_source(nexmark_sql.read_query(query), events_dir)
    statements = split_statements(sql)
    for stmt in statements[:-1]:
        if not apply_set_statement(t_env, stmt):
            t_env.execute_sql(stmt)
    pids = jvm_pids()
    for p in pids:
        reset_peak(p)
    cpu0 = sum(cpu_seconds(p) for p in pids)
    start = time.monotonic()
    result = t_env.execute_sql(statements[-1])
    client = result.get_job_client()
    if client is not None:
        client.get_job_execution_result().result()
    result.wait()
    job = time.monotonic() - start
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    rss = max((peak_rss_mb(p) for p in pids), default=0.0)
    return {"job_s": job, "cpu_s": cpu, "rss_mb": rss}


def main():
    parallelism = int(sys.argv[1])
    events_dir = os.path.abspath(sys.argv[2])
    for query in sys.argv[3:]:
        row = {"query": query, "parallelism": parallelism}
        try:
            row.update(run_query(query, parallelism, events_dir))
        except Exception as e:  # noqa: BLE001 - report Flink's message, go on with the next
            row["error"] = java_error_text(e).splitlines()[-1:] or [str(e)]
            row["error"] = row["error"][0][:300]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
