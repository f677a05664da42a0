#!/usr/bin/env python3
"""Platform benchmark (issue: the platform): time from `job start` to the first output
record of a trivial job, and the memory of idle running jobs on one node.

Starts `stc server` (release build) on a scratch data directory, drives it through the REST
API, and writes docs/platform-benchmark.md. Usage: bench.py STC_BINARY [IDLE_JOBS] [RUNS]
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

STC = sys.argv[1]
IDLE_JOBS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 10
PASSWORD = "benchmark-password"

TRIVIAL = """CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'print', 'print-identifier' = 'out');
INSERT INTO out SELECT id FROM src;
"""

IDLE = """CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT id FROM src;
"""


class Api:
    def __init__(self, base):
        self.base = base
        self.token = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        with urllib.request.urlopen(req) as r:
            text = r.read()
            return json.loads(text) if text else None


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def worker_pids(server_pid):
    out = subprocess.run(["pgrep", "-P", str(server_pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def main():
    data = tempfile.mkdtemp(prefix="stc-platform-bench-")
    env = dict(os.environ, STC_ADMIN_PASSWORD=PASSWORD, STC_CREATE_EXAMPLE="false",
               RUST_LOG="warn")
    server = subprocess.Popen(
        [STC, "server", "--listen", "127.0.0.1:0", "--data-dir", data,
         "--heartbeat-interval-ms", "200", "--lease-timeout-ms", "2000"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        base = None
        for line in server.stdout:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                base = m.group(1) + "/api/v1"
                break
        api = Api(base)
        api.token = api.call("POST", "/auth/login",
                             {"username": "admin", "password": PASSWORD})["token"]
        api.call("POST", "/projects", {"name": "bench"})

        # 1. start → first output record.
        api.call("POST", "/projects/bench/jobs",
                 {"name": "trivial", "sql": TRIVIAL, "settings": {"parallelism": 1}})
        firsts, runnings = [], []
        for _ in range(RUNS):
            t0 = time.monotonic()
            inst = api.call("POST", "/projects/bench/jobs/trivial/start")
            path = f"/projects/bench/jobs/trivial/instances/{inst['id']}"
            while True:
                logs = api.call("GET", path + "/logs?limit=1000")
                if any(l["line"].startswith("out> +I[") for l in logs):
                    firsts.append((time.monotonic() - t0) * 1000)
                    break
                time.sleep(0.005)
            hist = api.call("GET", path + "/transitions")
            start = next(h["at"] for h in hist if h["action"] == "start")
            run = next(h["at"] for h in hist if h["action"] == "run")
            runnings.append(run - start)
            while api.call("GET", path)["state"] != "finished":
                time.sleep(0.02)

        # 2. idle running jobs: memory per worker process.
        for i in range(IDLE_JOBS):
            api.call("POST", "/projects/bench/jobs",
                     {"name": f"idle{i}", "sql": IDLE, "settings": {"parallelism": 1}})
            api.call("POST", f"/projects/bench/jobs/idle{i}/start")
        deadline = time.monotonic() + 120
        while True:
            jobs = [api.call("GET", f"/projects/bench/jobs/idle{i}/instances")[-1]
                    for i in range(IDLE_JOBS)]
            if all(j["state"] == "running" for j in jobs):
                break
            if time.monotonic() > deadline:
                raise SystemExit("idle jobs did not all reach running in 120 s")
            time.sleep(0.2)
        time.sleep(5)  # let allocators settle
        pids = worker_pids(server.pid)
        worker_rss = [rss_kb(p) / 1024 for p in pids]
        server_rss = rss_kb(server.pid) / 1024
        for i in range(IDLE_JOBS):
            api.call("POST", f"/projects/bench/jobs/idle{i}/stop")
    finally:
        server.terminate()
        server.wait()

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    lines = [
        "# Platform benchmark",
        "",
        "Generated by `benchmarks/platform/run.sh` (do not edit by hand).",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
        "`stc server` on SQLite, release build, heartbeat 200 ms.",
        "",
        f"## Time from `job start` to the first output record ({RUNS} runs)",
        "",
        "A one-row `datagen` → `print` job; measured by the client from the start request to "
        "the first output line readable through the logs API (polled every 5 ms), and, from "
        "the instance's recorded transitions, start → worker running.",
        "",
        "| measure | median | min | max |",
        "|---|---|---|---|",
        f"| start → first output record (ms) | {statistics.median(firsts):.0f} | "
        f"{min(firsts):.0f} | {max(firsts):.0f} |",
        f"| start → running (ms, transitions) | {statistics.median(runnings):.0f} | "
        f"{min(runnings)} | {max(runnings)} |",
        "",
        f"## {IDLE_JOBS} idle running jobs on one node",
        "",
        "Each a `datagen` (1 row/s) → `blackhole` job in its own `stc worker` process; "
        "resident memory (VmRSS) after 5 s.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| worker processes | {len(worker_rss)} |",
        f"| RSS per worker, median (MB) | {statistics.median(worker_rss):.1f} |",
        f"| RSS per worker, max (MB) | {max(worker_rss):.1f} |",
        f"| RSS of the server process (MB) | {server_rss:.1f} |",
        "",
    ]
    out = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "platform-benchmark.md")
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
