#!/usr/bin/env python3
"""Platform benchmark: (1) time from `job start` (the API call) to the first output record of
a trivial job, as seen through the API (the record is a log line of the instance);
(2) memory of idle running jobs: N jobs that produce one row a second, their worker
processes' resident memory (VmRSS, and the private/proportional parts) and the server's.

Usage: benchmarks/platform/run.py [STC_BINARY] [IDLE_JOBS]
  STC_BINARY defaults to target/bench/stc, else target/release/stc, else target/debug/stc
  (under $CARGO_TARGET_DIR if set). The numbers depend on the build: say which one you used.
Only the Python standard library is needed; the server runs on 127.0.0.1 with SQLite in a
temporary directory and is stopped at the end.
"""
import json, os, re, statistics, subprocess, sys, tempfile, time, urllib.request

def find_binary():
    if len(sys.argv) > 1:
        return sys.argv[1]
    root = os.environ.get("CARGO_TARGET_DIR", "target")
    for prof in ("bench", "release", "debug"):
        p = os.path.join(root, prof, "stc")
        if os.path.exists(p):
            return p
    sys.exit("no stc binary found; build one with cargo build --profile bench --bin stc")

STC = find_binary()
IDLE = int(sys.argv[2]) if len(sys.argv) > 2 else 10
PW = "bench-password"

def call(base, method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None

def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None

def mem_kb(pid):
    """(private anonymous memory, proportional set size) of a process in kB: what it costs on
    its own. VmRSS also counts the pages of the `stc` binary, which every worker maps from the
    same file and the page cache holds once."""
    anon = pss = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    anon = int(line.split()[1])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except FileNotFoundError:
        return None
    return (anon, pss)

def worker_pids():
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            args = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if len(args) > 1 and args[0].endswith(b"stc") and args[1] == b"worker":
            pids.append(int(d))
    return pids

TRIVIAL = """CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'print', 'print-identifier' = 'out');
INSERT INTO out SELECT id FROM src;"""

IDLE_SQL = """CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1');
CREATE TABLE out (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out SELECT id FROM src;"""

def main():
    tmp = tempfile.mkdtemp(prefix="stc-bench-")
    env = dict(os.environ, STC_ADMIN_PASSWORD=PW, STC_CREATE_EXAMPLE="false")
    server = subprocess.Popen([STC, "server", "--listen", "127.0.0.1:0", "--data-dir", tmp,
                               "--heartbeat-interval-ms", "500", "--lease-timeout-ms", "5000"],
                              stdout=subprocess.PIPE, env=env, text=True)
    try:
        base = None
        for line in server.stdout:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                base = m.group(1) + "/api/v1"
                break
        token = call(base, "POST", "/auth/login", body={"username": "admin", "password": PW})["token"]
        call(base, "POST", "/projects", token, {"name": "bench"})
        call(base, "POST", "/projects/bench/jobs", token,
             {"name": "trivial", "sql": TRIVIAL, "settings": {"parallelism": 1}})
        samples = []
        for _ in range(7):
            t0 = time.perf_counter()
            inst = call(base, "POST", "/projects/bench/jobs/trivial/start", token, {})
            path = f"/projects/bench/jobs/trivial/instances/{inst['id']}"
            while True:
                lines = call(base, "GET", path + "/logs", token)
                if any(l["line"].startswith("out>") for l in lines):
                    samples.append((time.perf_counter() - t0) * 1000)
                    break
                if time.perf_counter() - t0 > 30:
                    sys.exit("no output within 30 s")
                time.sleep(0.002)
            while call(base, "GET", path, token)["state"] in ("starting", "running"):
                time.sleep(0.01)
        print(f"binary: {STC}")
        print(f"job start -> first output record: median {statistics.median(samples):.0f} ms, "
              f"min {min(samples):.0f} ms, max {max(samples):.0f} ms over {len(samples)} runs")

        server_before = rss_kb(server.pid)
        for i in range(IDLE):
            call(base, "POST", "/projects/bench/jobs", token,
                 {"name": f"idle{i}", "sql": IDLE_SQL, "settings": {"parallelism": 1}})
            call(base, "POST", f"/projects/bench/jobs/idle{i}/start", token, {})
        deadline = time.time() + 60
        while time.time() < deadline:
            states = [call(base, "GET", f"/projects/bench/jobs/idle{i}/instances", token)[0]["state"]
                      for i in range(IDLE)]
            if all(s == "running" for s in states):
                break
            time.sleep(0.2)
        time.sleep(3)  # let the workers settle
        pids = worker_pids()
        rss = [r for r in (rss_kb(p) for p in pids) if r]
        print(f"idle running jobs: {len(rss)} workers, RSS per worker median "
              f"{statistics.median(rss)/1024:.1f} MB (min {min(rss)/1024:.1f}, max {max(rss)/1024:.1f}); "
              f"server RSS {server_before/1024:.1f} MB before, {rss_kb(server.pid)/1024:.1f} MB with them")
        mem = [m for m in (mem_kb(p) for p in pids) if m]
        anon = [a for a, _ in mem if a is not None]
        pss = [p for _, p in mem if p is not None]
        if anon and pss:
            print(f"  of which private per worker (RssAnon) median {statistics.median(anon)/1024:.1f} MB; "
                  f"proportional (Pss, shared binary pages divided among the workers) median "
                  f"{statistics.median(pss)/1024:.1f} MB; total Pss of the workers {sum(pss)/1024:.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)

if __name__ == "__main__":
    main()
