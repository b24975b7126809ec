"""Runs one SQL statement on DuckDB or chDB `1 + runs` times in this process
(the first run is the cold one) and prints
`{"times_ms": [...], "answer": [row objects], "version": "..."}`.

Started by compare.py, one fresh process per (engine, workload), so that the
peak RSS (VmHWM, reported at exit) belongs to that workload alone.
`{run}` in the SQL is replaced by the run number (export targets).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time


def run_duckdb(sql: str, threads: int, runs: int):
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {threads}")
    con.execute("SET TimeZone = 'UTC'")
    times, answer, stable = [], None, True
    for i in range(runs + 1):
        q = sql.replace("{run}", str(i))
        t0 = time.perf_counter()
        cur = con.execute(q)
        rows = cur.fetchall() if cur.description else []
        times.append((time.perf_counter() - t0) * 1e3)
        cols = [c[0] for c in cur.description] if cur.description else []
        a = sorted((dict(zip(cols, [jsonable(v) for v in r])) for r in rows), key=json.dumps)
        if i == 0:
            answer = a
        elif a != answer:
            stable = False
    return times, answer, stable, duckdb.__version__


def run_chdb(sql: str, threads: int, runs: int):
    import chdb
    from chdb import session as chs

    tmp = tempfile.mkdtemp(prefix="chdb-")
    sess = chs.Session(tmp)
    settings = (f"max_threads = {threads}, max_parsing_threads = {threads}, "
                "use_hive_partitioning = 1, join_use_nulls = 1, session_timezone = 'UTC', "
                "output_format_json_quote_64bit_integers = 0, "
                "output_format_json_quote_decimals = 0, engine_file_truncate_on_insert = 1")
    for s in settings.split(", "):
        sess.query(f"SET {s}")
    version = str(sess.query("SELECT version()", "CSV")).strip().strip('"')
    got = str(sess.query("SELECT getSetting('max_threads')", "CSV")).strip()
    if got.strip('"') != str(threads):
        raise SystemExit(f"chDB max_threads is {got}, wanted {threads}")
    times, answer, stable = [], None, True
    for i in range(runs + 1):
        q = sql.replace("{run}", str(i))
        is_insert = q.lstrip().upper().startswith("INSERT")
        t0 = time.perf_counter()
        res = sess.query(q, "CSV" if is_insert else "JSON")
        raw = res.bytes()
        times.append((time.perf_counter() - t0) * 1e3)
        a = [] if is_insert or not raw else sorted(json.loads(raw)["data"], key=json.dumps)
        if i == 0:
            answer = a
        elif a != answer:
            stable = False
    sess.close()
    return times, answer, stable, f"chdb {chdb.__version__} (ClickHouse {version})"


def jsonable(v):
    import datetime as dt
    import decimal

    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


def peak_rss_kib():
    """Peak RSS of this process (VmHWM), in KiB: interpreter + engine."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine", choices=["duckdb", "chdb"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sql", required=True)
    a = ap.parse_args()
    fn = run_duckdb if a.engine == "duckdb" else run_chdb
    times, answer, stable, version = fn(a.sql, a.threads, a.runs)
    json.dump({"times_ms": times, "answer": answer, "stable": stable, "version": version,
               "peak_rss_kib": peak_rss_kib()}, sys.stdout)


if __name__ == "__main__":
    main()
