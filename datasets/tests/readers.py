#!/usr/bin/env python3
"""Checks that a Strata dataset reads as written in pyarrow, DuckDB and Polars.

usage: python3 datasets/tests/readers.py DATASET_DIR
(pip install duckdb pyarrow polars)

For every tool: the events table is opened with hive partitioning
(event_month from the directory names), row counts must agree with the
Parquet footers, and every file must be sorted by (profile_id, event_time)
(profiles by profile_id).
"""
import glob
import os
import sys

import duckdb
import polars as pl
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def main(root):
    events_glob = os.path.join(root, "events", "*", "*.parquet")
    profiles_glob = os.path.join(root, "profiles", "*.parquet")
    event_files = sorted(glob.glob(events_glob))
    profile_files = sorted(glob.glob(profiles_glob))
    if not event_files or not profile_files:
        fail(f"no parquet files under {root}")

    # Footers (pyarrow.parquet): the reference counts.
    footer_events = sum(pq.ParquetFile(f).metadata.num_rows for f in event_files)
    footer_profiles = sum(pq.ParquetFile(f).metadata.num_rows for f in profile_files)

    # pyarrow dataset with hive partitioning.
    ev = ds.dataset(os.path.join(root, "events"), format="parquet", partitioning="hive")
    pa_events = ev.count_rows()
    if "event_month" not in ev.schema.names:
        fail("pyarrow: no event_month partition column")
    pa_profiles = ds.dataset(os.path.join(root, "profiles"), format="parquet").count_rows()
    months = ev.to_table(columns=["event_month"]).column("event_month").unique().to_pylist()

    # DuckDB.
    con = duckdb.connect()
    dd_events = con.execute(
        f"select count(*) from read_parquet('{events_glob}', hive_partitioning=true)"
    ).fetchone()[0]
    dd_profiles = con.execute(f"select count(*) from read_parquet('{profiles_glob}')").fetchone()[0]
    bad_month = con.execute(
        f"""select count(*) from read_parquet('{events_glob}', hive_partitioning=true)
            where strftime(event_time at time zone 'UTC', '%Y-%m') != event_month"""
    ).fetchone()[0]
    if bad_month:
        fail(f"duckdb: {bad_month} events in the wrong event_month partition")
    unsorted = con.execute(
        f"""select count(*) from (
              select profile_id, event_time, filename,
                     lag(profile_id) over w as pp, lag(event_time) over w as pt
              from read_parquet('{events_glob}', hive_partitioning=true, filename=true,
                                file_row_number=true)
              window w as (partition by filename order by file_row_number))
            where pp > profile_id or (pp = profile_id and pt > event_time)"""
    ).fetchone()[0]
    if unsorted:
        fail(f"duckdb: {unsorted} events out of (profile_id, event_time) order")

    # Polars.
    pl_events = (
        pl.scan_parquet(events_glob, hive_partitioning=True).select(pl.len()).collect().item()
    )
    pl_profiles = pl.scan_parquet(profiles_glob).select(pl.len()).collect().item()
    pl_month = pl.scan_parquet(events_glob, hive_partitioning=True).select("event_month").head(1).collect()
    if pl_month.height == 0:
        fail("polars: no event_month column")

    # Sort order per file (pyarrow, file by file; no numpy needed).
    for f in event_files:
        t = pq.read_table(f, columns=["profile_id", "event_time"])
        n = t.num_rows
        pid = t.column("profile_id").combine_chunks()
        ts = t.column("event_time").combine_chunks().cast("int64")
        a, b = pid.slice(1), pid.slice(0, n - 1)
        bad = pc.or_(
            pc.less(a, b),
            pc.and_(pc.equal(a, b), pc.less(ts.slice(1), ts.slice(0, n - 1))),
        )
        if n > 1 and pc.any(bad).as_py():
            fail(f"{f}: rows out of (profile_id, event_time) order")
    prev = None
    for f in profile_files:
        pid = pq.read_table(f, columns=["profile_id"]).column("profile_id").combine_chunks()
        n = len(pid)
        if n > 1 and pc.any(pc.less_equal(pid.slice(1), pid.slice(0, n - 1))).as_py():
            fail(f"{f}: profile_id not strictly increasing")
        if n and prev is not None and pid[0].as_py() <= prev:
            fail(f"{f}: profile_id range overlaps the previous file")
        if n:
            prev = pid[n - 1].as_py()

    # Full decode of every column (decimals, timestamps, lists) in each tool.
    dd_sum = con.execute(
        f"select sum(amount)::double, count(distinct event_type) from read_parquet('{events_glob}', hive_partitioning=true)"
    ).fetchone()
    pl_sum = pl.scan_parquet(events_glob, hive_partitioning=True).select(
        pl.col("amount").cast(pl.Float64).sum(), pl.col("event_type").n_unique()
    ).collect().row(0)
    pa_sum = pc.sum(ev.to_table(columns=["amount"]).column("amount").cast("float64")).as_py()
    if not (abs(dd_sum[0] - pl_sum[0]) < 1e-6 * max(1.0, abs(dd_sum[0])) and abs(dd_sum[0] - pa_sum) < 1e-6 * max(1.0, abs(dd_sum[0]))):
        fail(f"sum(amount) differs: duckdb {dd_sum[0]} polars {pl_sum[0]} pyarrow {pa_sum}")
    if dd_sum[1] != pl_sum[1]:
        fail("distinct event types differ")
    pl.read_parquet(profiles_glob)
    ds.dataset(os.path.join(root, "profiles"), format="parquet").to_table()
    con.execute(f"select * from read_parquet('{profiles_glob}')").fetchall()

    counts = {
        "footers": (footer_events, footer_profiles),
        "pyarrow": (pa_events, pa_profiles),
        "duckdb": (dd_events, dd_profiles),
        "polars": (pl_events, pl_profiles),
    }
    for tool, c in counts.items():
        print(f"{tool:8} events={c[0]:>12,} profiles={c[1]:>10,}")
    if len(set(counts.values())) != 1:
        fail("row counts differ")
    print(
        f"OK: {len(event_files)} event files in {len(months)} partitions, "
        f"{len(profile_files)} profile files; sorted; counts agree "
        f"(pyarrow {__import__('pyarrow').__version__}, "
        f"duckdb {duckdb.__version__}, polars {pl.__version__})"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1])
