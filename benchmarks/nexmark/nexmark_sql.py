"""Rewrites of the Nexmark query scripts (benchmarks/nexmark/qN.sql), shared by the benchmark
(benchmarks/nexmark/bench.py) and the correctness expectations (tools/flink_nexmark.py).

Every query script starts with the standard `nexmark` table (connector 'nexmark') and its
person/auction/bid views, then its sink table(s) and INSERT. The rewrites below only touch the
`WITH (...)` clause of the nexmark table or of the blackhole sink, so the query text that runs
is always the committed one.
"""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
QUERIES = ["q%d" % i for i in range(23)]

# The WITH clause of the nexmark table: no ')' occurs inside its option values.
_NEXMARK_WITH = re.compile(r"\)\s*WITH\s*\(\s*'connector'\s*=\s*'nexmark'[^)]*\)", re.S)
_BLACKHOLE_SINK = re.compile(
    r"CREATE TABLE (\w+)(\s*\((?:[^;])*?\))\s*WITH\s*\(\s*'connector'\s*=\s*'blackhole'\s*\)", re.S
)
_EVENT_COLUMNS = re.compile(r"CREATE TABLE nexmark \((.*?),\s*`dateTime` AS", re.S)


def query_path(q):
    return os.path.join(HERE, q + ".sql")


def read_query(q):
    with open(query_path(q), encoding="utf-8") as f:
        return f.read()


def with_nexmark_options(sql, options):
    """The script with the nexmark table's WITH clause replaced by `options` (a dict)."""
    body = ",\n".join("    '%s' = '%s'" % kv for kv in options.items())
    new = ") WITH (\n    'connector' = 'nexmark',\n%s\n)" % body
    out, n = _NEXMARK_WITH.subn(lambda _m: new, sql, count=1)
    if n != 1:
        raise ValueError("no nexmark table in the script")
    return out


def nexmark_options(sql):
    """The nexmark table's options as written in the script."""
    m = _NEXMARK_WITH.search(sql)
    if not m:
        raise ValueError("no nexmark table in the script")
    return dict(re.findall(r"'([^']+)'\s*=\s*'([^']*)'", m.group(0)))


def with_file_source(sql, path):
    """The script reading its events from JSON files at `path` (written by events_job) instead
    of generating them: same table, same computed column and watermark."""
    new = ") WITH (\n    'connector' = 'filesystem',\n    'path' = '%s',\n    'format' = 'json'\n)" % path
    out, n = _NEXMARK_WITH.subn(lambda _m: new, sql, count=1)
    if n != 1:
        raise ValueError("no nexmark table in the script")
    return out


def with_file_sinks(sql, fmt="csv"):
    """Blackhole sinks replaced by filesystem sinks at output/<sink name> (for checking); an
    updating query's sinks use `debezium-json` (a changelog)."""
    return _BLACKHOLE_SINK.sub(
        lambda m: "CREATE TABLE %s%s WITH (\n    'connector' = 'filesystem',\n    'path' = 'output/%s',\n    'format' = '%s'\n)"
        % (m.group(1), m.group(2), m.group(1), fmt),
        sql,
    )


def events_job(sql, path):
    """A script writing the nexmark table's events (physical columns) as JSON files to `path`."""
    m = _EVENT_COLUMNS.search(sql)
    if not m:
        raise ValueError("no nexmark table in the script")
    source = sql[sql.index("CREATE TABLE nexmark (") : sql.index(";", m.end()) + 1]
    return (
        source
        + "\n\nCREATE TABLE nexmark_events (%s\n) WITH (\n    'connector' = 'filesystem',\n    'path' = '%s',\n    'format' = 'json'\n);\n\n"
        % (m.group(1), path)
        + "INSERT INTO nexmark_events SELECT event_type, person, auction, bid FROM nexmark;\n"
    )


def describe(q):
    """The first comment line(s) of a query: what it exercises."""
    lines = []
    for line in read_query(q).splitlines():
        if not line.startswith("--"):
            break
        lines.append(line.lstrip("-").strip())
    text = " ".join(lines)
    return re.sub(r"^Nexmark q\d+:\s*", "", text)
