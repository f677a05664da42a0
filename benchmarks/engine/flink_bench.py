"""Runs the engine benchmark queries on Apache Flink 2.3 (PyFlink), parallelism 1.

Usage (from the repository root, with the venv of tools/flink-golden):
    /var/tmp/stc-flink-venv/bin/python benchmarks/engine/flink_bench.py EVENTS QUERY...
Prints one line per query: the job time (from submission to the end of the job, JVM start-up
excluded, as the issue's Flink baseline is stated), events/s, the CPU time the JVM used during
the job and events/s per core (events / those CPU seconds, as stc's side is reported).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from flink_golden import split_statements  # noqa: E402  (one statement splitter, shared)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "nexmark"))
from flink_run import cpu_seconds, jvm_pids  # noqa: E402  (the JVM's CPU time, shared)

from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402


def main():
    events = int(sys.argv[1])
    for query in sys.argv[2:]:
        t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
        conf = t_env.get_config()
        conf.set("parallelism.default", "1")
        conf.set("table.local-time-zone", "UTC")
        with open(f"benchmarks/engine/{query}.sql") as f:
            statements = split_statements(f.read())
        for stmt in statements[:-1]:
            t_env.execute_sql(stmt)
        pids = jvm_pids()
        cpu0 = sum(cpu_seconds(p) for p in pids)
        start = time.monotonic()
        t_env.execute_sql(statements[-1]).wait()
        job = time.monotonic() - start
        cpu = sum(cpu_seconds(p) for p in pids) - cpu0
        # No JVM found below this process (PyFlink started it some other way): no per-core figure.
        per_core = f"{events / cpu:,.0f}" if cpu > 0 else "n/a"
        print(
            f"flink {query:16s} events={events} job_time={job:.2f}s cpu={cpu:.2f}s "
            f"events/s={events / job:,.0f} events/s/core={per_core}",
            flush=True,
        )


if __name__ == "__main__":
    main()
