#!/usr/bin/env python3
"""Regenerate tests/golden/<case>/expected.out by running each case's job.sql on Apache Flink.

Run through tools/flink-golden (which provides the venv with apache-flink==2.3.0 and JAVA_HOME).

    tools/flink-golden [--keep-scratch] [CASE_DIR...]

For every case (default: each folder of tests/golden/ holding a job.sql):

1. the case folder is copied to a scratch directory (any old output/ removed there);
2. a fresh streaming TableEnvironment (parallelism 1, table.local-time-zone = UTC) runs job.sql
   statement by statement; every statement that starts a job (INSERT, EXECUTE STATEMENT SET) is
   waited for until the job has finished;
3. expected.out is written into the case folder: for each directory under output/ (name order) a
   line `== output/<name>`, then every line of every file below it (hidden in-progress/pending
   files included) sorted bytewise.

All cases run in ONE Python process, hence one JVM (Flink's JVM start costs 8-25 s; a job in an
already warm JVM takes about a second).

Relative paths: the JVM resolves 'input/x.csv' against its own working directory, which is fixed
when the JVM starts. So the JVM is started inside one scratch directory, and each case is copied
*into that same directory* (after emptying it) before it runs.

Filesystem sink in streaming mode (measured with Flink 2.3.0 from PyPI, no checkpointing): the
sink commits its part files at the end of bounded input by itself -- after the INSERT job has
finished, output/<name>/ holds visible `part-<uuid>-0-0` files with every row, also when
`execution.checkpointing.interval` is not set (a 100 ms interval gave the same files and made the
job no slower). Part files are otherwise committed only on checkpoints, and a job that fails or is
cancelled leaves hidden `.part-<uuid>-0-0.inprogress.<uuid>` files; this runner reads every file,
hidden or not, so the expected.out would be the same either way. Checkpointing is left off (that is
Flink's default and how stc runs); set STC_FLINK_CHECKPOINT_INTERVAL (e.g. "100 ms") to turn it on.

A case that Flink rejects (parse/validation error, job failure) is reported with Flink's error, its
expected.out is left untouched, and the tool exits non-zero at the end.
"""

import os
import re
import shutil
import sys
import tempfile
import time
import traceback

# --------------------------------------------------------------------------------------------
# Statement splitting


def split_statements(script):
    """Split a Flink SQL script into statements.

    Handles '...' string literals (with '' escapes), "..." and `...` quoted identifiers,
    -- line comments and /* block */ comments (a ';' inside any of these does not end a
    statement), and `EXECUTE STATEMENT SET BEGIN ... END;` / `BEGIN STATEMENT SET; ... END;`
    which are returned as one statement. Comments are kept in the statement text (Flink's parser
    accepts them); statements that hold nothing but comments/whitespace are dropped.
    """
    stmts = []
    buf = []  # characters of the current statement
    words = []  # upper-cased bare words of the current statement (outside quotes/comments)
    i, n = 0, len(script)
    word = []

    def flush_word():
        if word:
            words.append("".join(word).upper())
            word.clear()

    def in_statement_set():
        # EXECUTE STATEMENT SET BEGIN ... END   or   BEGIN STATEMENT SET ... END
        if words[:4] == ["EXECUTE", "STATEMENT", "SET", "BEGIN"]:
            return True
        if words[:3] == ["BEGIN", "STATEMENT", "SET"]:
            return True
        return False

    while i < n:
        c = script[i]
        if c == "-" and script.startswith("--", i):
            flush_word()
            j = script.find("\n", i)
            j = n if j < 0 else j
            buf.append(script[i:j])
            i = j
            continue
        if c == "/" and script.startswith("/*", i):
            flush_word()
            j = script.find("*/", i + 2)
            j = n if j < 0 else j + 2
            buf.append(script[i:j])
            i = j
            continue
        if c in ("'", '"', "`"):
            flush_word()
            q = c
            j = i + 1
            while j < n:
                if script[j] == q:
                    if j + 1 < n and script[j + 1] == q:  # doubled quote = escaped quote
                        j += 2
                        continue
                    break
                j += 1
            j = min(j + 1, n)
            buf.append(script[i:j])
            words.append("<quoted>")
            i = j
            continue
        if c == ";":
            flush_word()
            if in_statement_set() and (not words or words[-1] != "END"):
                # a ';' between the statements of a statement set
                if words[:3] == ["BEGIN", "STATEMENT", "SET"] and len(words) == 3:
                    # old style `BEGIN STATEMENT SET;` keeps going
                    pass
                buf.append(c)
                words.append(";")
                i += 1
                continue
            text = "".join(buf).strip()
            if _has_code(text):
                stmts.append(text)
            buf, words = [], []
            i += 1
            continue
        if c.isalnum() or c == "_":
            word.append(c)
        else:
            flush_word()
        buf.append(c)
        i += 1
    flush_word()
    text = "".join(buf).strip()
    if _has_code(text):
        stmts.append(text)
    return stmts


def _has_code(text):
    no_comments = re.sub(r"--[^\n]*|/\*.*?\*/", "", text, flags=re.S)
    return no_comments.strip() != ""


def _code_only(stmt):
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", stmt, flags=re.S).strip()


# --------------------------------------------------------------------------------------------
# expected.out


def collect_expected(case_scratch):
    out_root = os.path.join(case_scratch, "output")
    chunks = []
    if not os.path.isdir(out_root):
        return b""
    for name in sorted(os.listdir(out_root)):
        sink = os.path.join(out_root, name)
        if not os.path.isdir(sink):
            continue
        lines = []
        for dirpath, dirnames, filenames in os.walk(sink):
            dirnames.sort()
            for fn in sorted(filenames):
                # Flink's checksum files (.crc) would hold binary garbage; none seen so far.
                if fn.endswith(".crc"):
                    continue
                with open(os.path.join(dirpath, fn), "rb") as f:
                    data = f.read()
                if not data:
                    continue
                parts = data.split(b"\n")
                if parts and parts[-1] == b"":
                    parts.pop()
                lines.extend(p[:-1] if p.endswith(b"\r") else p for p in parts)
        lines.sort()
        chunks.append(b"== output/" + name.encode() + b"\n")
        chunks.extend(line + b"\n" for line in lines)
    return b"".join(chunks)


# --------------------------------------------------------------------------------------------
# running


def java_error_text(exc):
    """The useful part of a Py4J / PyFlink exception: the chain of 'Caused by' messages."""
    s = str(exc)
    lines = s.splitlines()
    keep = []
    for line in lines:
        t = line.strip()
        if not t or t.startswith("at ") or t.startswith("... "):
            continue
        keep.append(t)
    # de-duplicate consecutive repeats and cap the size
    out, seen = [], set()
    for t in keep:
        if t not in seen:
            seen.add(t)
            out.append(t)
    if len(out) > 40:
        out = out[:40] + ["... (%d more lines)" % (len(out) - 40)]
    return "\n".join(out)


_SET_RE = re.compile(r"^SET\s+'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'$", re.I | re.S)
_RESET_RE = re.compile(r"^RESET(\s+'((?:[^']|'')*)')?$", re.I | re.S)


def apply_set_statement(t_env, stmt):
    """`SET 'k' = 'v'` / `RESET 'k'`: statements of Flink's SQL client, which
    TableEnvironment.executeSql() rejects ("Unsupported SQL query"). Applied to the table config
    the way the SQL client does it. Returns True when the statement was one of these."""
    code = _code_only(stmt)
    m = _SET_RE.match(code)
    if m:
        key, value = (g.replace("''", "'") for g in m.groups())
        t_env.get_config().set(key, value)
        return True
    m = _RESET_RE.match(code)
    if m:
        if m.group(2) is None:
            raise ValueError("RESET of all options is not supported by this runner")
        key = m.group(2).replace("''", "'")
        default = {"table.local-time-zone": "UTC", "parallelism.default": "1"}.get(key)
        if default is None:
            raise ValueError("RESET '%s' is not supported by this runner" % key)
        t_env.get_config().set(key, default)
        return True
    return False


def make_table_env():
    from pyflink.table import EnvironmentSettings, TableEnvironment

    settings = EnvironmentSettings.new_instance().in_streaming_mode().build()
    t_env = TableEnvironment.create(settings)
    conf = t_env.get_config()
    conf.set("parallelism.default", "1")
    conf.set("table.local-time-zone", "UTC")
    # Not needed for the filesystem sink to commit at end of input (see module doc).
    interval = os.environ.get("STC_FLINK_CHECKPOINT_INTERVAL")
    if interval:
        conf.set("execution.checkpointing.interval", interval)
    return t_env


def run_case(case_dir, work):
    """Run one case inside `work` (the JVM's cwd). Returns (ok, message)."""
    # empty the work dir, copy the case in
    for entry in os.listdir(work):
        p = os.path.join(work, entry)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.remove(p)
    for entry in os.listdir(case_dir):
        if entry in ("output", "expected.out"):
            continue
        src = os.path.join(case_dir, entry)
        dst = os.path.join(work, entry)
        if os.path.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)

    with open(os.path.join(work, "job.sql"), encoding="utf-8") as f:
        script = f.read()
    stmts = split_statements(script)
    t_env = make_table_env()
    jobs = 0
    for idx, stmt in enumerate(stmts, 1):
        try:
            if apply_set_statement(t_env, stmt):
                continue
            result = t_env.execute_sql(stmt)
            client = result.get_job_client()
            if client is not None:
                jobs += 1
                # Raises if the job failed. (Do not ask the client for the job status afterwards:
                # the per-job MiniCluster is already shut down then.)
                client.get_job_execution_result().result()
                result.wait()
        except Exception as e:  # noqa: BLE001 - we want Flink's message whatever it is
            return False, "statement %d failed:\n%s\n--- Flink says:\n%s" % (
                idx,
                stmt,
                java_error_text(e),
            )
    if jobs == 0:
        return False, "the script started no job (no INSERT?)"
    return True, "%d statements, %d job(s)" % (len(stmts), jobs)


def find_cases(args, repo_root):
    if args:
        cases = [os.path.abspath(a) for a in args]
    else:
        golden = os.path.join(repo_root, "tests", "golden")
        cases = [
            os.path.join(golden, d)
            for d in sorted(os.listdir(golden))
            if os.path.isfile(os.path.join(golden, d, "job.sql"))
        ]
    for c in cases:
        if not os.path.isfile(os.path.join(c, "job.sql")):
            sys.exit("flink-golden: %s has no job.sql" % c)
    return cases


def main(argv):
    keep = False
    args = []
    for a in argv:
        if a == "--keep-scratch":
            keep = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            args.append(a)
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cases = find_cases(args, repo_root)
    if not cases:
        print("flink-golden: no cases found")
        return 1

    scratch = tempfile.mkdtemp(prefix="stc-flink-golden-")
    work = os.path.join(scratch, "case")
    os.makedirs(work)
    # The JVM (started lazily by the first TableEnvironment) inherits this cwd for good.
    os.chdir(work)

    t0 = time.time()
    failures = []
    for case_dir in cases:
        name = os.path.basename(case_dir.rstrip("/"))
        c0 = time.time()
        try:
            ok, msg = run_case(case_dir, work)
        except Exception:  # noqa: BLE001
            ok, msg = False, traceback.format_exc()
        dt = time.time() - c0
        if ok:
            data = collect_expected(work)
            if not data:
                ok, msg = False, "no output/ directory was written"
            else:
                with open(os.path.join(case_dir, "expected.out"), "wb") as f:
                    f.write(data)
                nlines = data.count(b"\n") - data.count(b"\n== output/") - 1
                print("ok    %-45s %6.1fs  %s, %d row(s)" % (name, dt, msg, nlines), flush=True)
        if not ok:
            failures.append(name)
            print("FAIL  %-45s %6.1fs" % (name, dt), flush=True)
            print("      " + msg.replace("\n", "\n      "), flush=True)
        if keep:
            shutil.copytree(work, os.path.join(scratch, "kept", name))
    total = time.time() - t0
    print(
        "flink-golden: %d passed, %d failed in %.1fs%s"
        % (len(cases) - len(failures), len(failures), total,
           (" (scratch kept in %s/kept)" % scratch) if keep else "")
    )
    os.chdir("/")
    if not keep:
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        print("flink-golden: FAILED: " + " ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
