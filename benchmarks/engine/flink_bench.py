"""Runs the engine benchmark queries on Apache Flink 2.3 (PyFlink), parallelism 1.

Usage (from the repository root, with the venv of tools/flink-golden):
    /var/tmp/stc-flink-venv/bin/python benchmarks/engine/flink_bench.py EVENTS QUERY...
Prints one line per query: the job time (from submission to the end of the job, JVM start-up
excluded, as the issue's Flink baseline is stated) and events/s.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from flink_golden import split_statements  # noqa: E402  (one statement splitter, shared)

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
        start = time.monotonic()
        t_env.execute_sql(statements[-1]).wait()
        job = time.monotonic() - start
        print(f"flink {query:16s} events={events} job_time={job:.2f}s events/s={events / job:,.0f}", flush=True)


if __name__ == "__main__":
    main()
