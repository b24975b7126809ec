#!/usr/bin/env python3
"""Living data checked against a real public transactions file: CDNOW
(Fader & Hardie's 23,570 customers, 69,659 purchases, January 1997 to June
1998), as shipped with the `lifetimes` package on PyPI.

    cdnow.py --strata target/debug/strata --work DIR

1. fetches the file (`pip download --no-deps lifetimes==0.11.3`, cached in
   DIR) and writes 1997 as one CSV and each month of 1998 as another;
2. `strata import`s 1997, `strata append`s each 1998 month with exactly the
   import's column flags, then `strata forget`s five customers;
3. checks every count below, the lifecycle report, the event total and one
   member list against
   DuckDB over the source rows minus the forgotten customers, that Python
   deltalake and Polars read the same number of events, and that no
   Parquet file anywhere under the dataset holds a forgotten customer (by
   external id or profile id).
Exits non-zero on the first difference.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import zipfile

import duckdb
import pyarrow.parquet as pq

WHEEL = "lifetimes==0.11.3"
AS_OF = "1998-07-01"
FORGOTTEN = ["00007", "00042", "01234", "12000", "23570"]
FLAGS = ["--profile-id", "customer", "--time", "date", "--time-format", "%Y%m%d",
         "--event-type-const", "purchase", "--amount", "dollar_value", "--quantity", "cds"]

# Segment -> the same question in SQL over `src` (one row per purchase,
# ts a TIMESTAMP at midnight UTC), counting customers.
CHECKS = {
    "performed(purchase)": "SELECT count(DISTINCT customer) FROM src",
    "count(purchase) >= 3":
        "SELECT count(*) FROM (SELECT customer FROM src GROUP BY 1 HAVING count(*) >= 3)",
    "sum(purchase.amount) > 100":
        "SELECT count(*) FROM (SELECT customer FROM src GROUP BY 1 HAVING sum(amount) > 100)",
    "performed(purchase WITHIN 90d)":
        f"SELECT count(DISTINCT customer) FROM src WHERE ts >= TIMESTAMP '{AS_OF}' - INTERVAL 90 DAY"
        f" AND ts < TIMESTAMP '{AS_OF}'",
    "count(purchase BETWEEN 1998-01-01 AND 1998-04-01) >= 2":
        "SELECT count(*) FROM (SELECT customer FROM src WHERE ts >= '1998-01-01' AND ts < '1998-04-01'"
        " GROUP BY 1 HAVING count(*) >= 2)",
    "performed(purchase) AND NOT performed(purchase WITHIN 365d)":
        f"SELECT count(*) FROM (SELECT customer FROM src GROUP BY 1"
        f" HAVING max(ts) < TIMESTAMP '{AS_OF}' - INTERVAL 365 DAY)",
    "sum(purchase.quantity WITHIN 180d) >= 10":
        f"SELECT count(*) FROM (SELECT customer FROM src WHERE ts >= TIMESTAMP '{AS_OF}' - INTERVAL 180 DAY"
        f" AND ts < TIMESTAMP '{AS_OF}' GROUP BY 1 HAVING sum(cds) >= 10)",
    "max(purchase.amount) >= 200":
        "SELECT count(*) FROM (SELECT customer FROM src GROUP BY 1 HAVING max(amount) >= 200)",
}
# Lifecycle (docs/design.md "Lifecycle", W = 90 days): C = [as_of - W,
# as_of), P = [as_of - 2W, as_of - W).
LIFECYCLE_SQL = f"""
    WITH bits AS (
        SELECT customer,
               bool_or(ts >= TIMESTAMP '{AS_OF}' - INTERVAL 90 DAY) AS c,
               bool_or(ts >= TIMESTAMP '{AS_OF}' - INTERVAL 180 DAY
                       AND ts < TIMESTAMP '{AS_OF}' - INTERVAL 90 DAY) AS p
        FROM src WHERE ts < TIMESTAMP '{AS_OF}' GROUP BY 1)
    SELECT CASE WHEN c AND p THEN 'returning'
                WHEN c AND customer IN (SELECT customer FROM src
                                        WHERE ts < TIMESTAMP '{AS_OF}' - INTERVAL 180 DAY) THEN 'resurrecting'
                WHEN c THEN 'new'
                WHEN p THEN 'dormant'
                ELSE 'lost' END AS state,
           count(*)
    FROM bits GROUP BY 1"""
MEMBERS = "count(purchase WITHIN 30d) >= 2"
MEMBERS_SQL = (f"SELECT DISTINCT customer FROM src WHERE ts >= TIMESTAMP '{AS_OF}' - INTERVAL 30 DAY"
               f" AND ts < TIMESTAMP '{AS_OF}' GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1")


def fail(msg):
    sys.exit(f"cdnow: {msg}")


def run(strata, *args):
    p = subprocess.run([strata, *args], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"strata {' '.join(args)} failed:\n{p.stderr}")
    return p.stdout


def fetch(work):
    wheels = glob.glob(os.path.join(work, "*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL,
                        "-d", work], check=True)
        wheels = glob.glob(os.path.join(work, "*.whl"))
    text = zipfile.ZipFile(wheels[0]).read("lifetimes/datasets/CDNOW_master.txt").decode()
    rows = [line.split() for line in text.splitlines()[1:] if line.strip()]
    if len(rows) != 69659:
        fail(f"CDNOW_master.txt has {len(rows)} rows, expected 69659")
    return rows


def write_inputs(rows, work):
    files = {}
    for customer, date, cds, value in rows:
        key = "1997" if date.startswith("1997") else date[:6]
        files.setdefault(key, []).append(f"{customer},{date},{cds},{value}\n")
    paths = {}
    for key, lines in sorted(files.items()):
        path = os.path.join(work, f"cdnow-{key}.csv")
        with open(path, "w") as f:
            f.write("customer,date,cds,dollar_value\n")
            f.writelines(lines)
        paths[key] = path
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strata", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rows = fetch(a.work)
    inputs = write_inputs(rows, a.work)
    data = os.path.join(a.work, "cdnow")
    run(a.strata, "import", "--events", inputs.pop("1997"), "--out", data, *FLAGS)
    for month in sorted(inputs):
        run(a.strata, "append", "--data", data, "--events", inputs[month], *FLAGS)
    who = run(a.strata, "members", "--data", data, "external_id IN ("
              + ", ".join(repr(c) for c in FORGOTTEN) + ")", "--columns", "external_id")
    forgotten_ids = {int(line.split(",")[0]) for line in who.splitlines()[1:]}
    if len(forgotten_ids) != len(FORGOTTEN):
        fail(f"the customers to forget are not all there: {who}")
    forgot = run(a.strata, "forget", "--data", data, *[x for c in FORGOTTEN for x in ("--external-id", c)])
    if "forgot 5 profiles" not in forgot:
        fail(f"forget: {forgot}")

    db = duckdb.connect()
    db.execute("CREATE TABLE raw (customer VARCHAR, date VARCHAR, cds BIGINT, amount DECIMAL(18, 2))")
    db.executemany("INSERT INTO raw VALUES (?, ?, ?, ?)", rows)
    db.execute("CREATE VIEW src AS SELECT customer, strptime(date, '%Y%m%d') AS ts, cds, amount FROM raw"
               f" WHERE customer NOT IN ({', '.join(repr(c) for c in FORGOTTEN)})")

    events = db.execute("SELECT count(*) FROM src").fetchone()[0]
    history = run(a.strata, "history", "--data", data)
    described = run(a.strata, "describe", "--data", data)
    if f"{events:,}" not in described and str(events) not in described:
        fail(f"describe does not show {events} events:\n{described}")
    for dsl, sql in CHECKS.items():
        got = int(run(a.strata, "count", "--data", data, "--as-of", AS_OF, dsl).strip())
        want = db.execute(sql).fetchone()[0]
        if got != want:
            fail(f"{dsl}: strata {got}, DuckDB {want}")
        print(f"ok {got:>6}  {dsl}")
    out = run(a.strata, "members", "--data", data, "--as-of", AS_OF, MEMBERS, "--columns", "external_id")
    got = sorted(line.rsplit(",", 1)[1] for line in out.splitlines()[1:])
    want = [r[0] for r in db.execute(MEMBERS_SQL).fetchall()]
    if got != want:
        fail(f"members of {MEMBERS}: {len(got)} from strata, {len(want)} from DuckDB")
    print(f"ok {len(got):>6}  members of {MEMBERS}")

    report = json.loads(run(a.strata, "lifecycle", "--data", data, "--as-of", AS_OF, "--format", "json"))
    got = {r["state"]: r["profiles"] for r in report["tables"]["states"] if r["state"] != "churned"}
    want = dict.fromkeys(["new", "returning", "resurrecting", "dormant", "lost", "never"], 0)
    want.update(dict(db.execute(LIFECYCLE_SQL).fetchall()))
    if got != want:
        fail(f"lifecycle: strata {got}, DuckDB {want}")
    print(f"ok {sum(got.values()):>6}  lifecycle states {got}")

    holders = []
    for path in glob.glob(os.path.join(data, "**", "*.parquet"), recursive=True):
        table = pq.read_table(path)
        if "external_id" in table.column_names and set(table.column("external_id").to_pylist()) & set(FORGOTTEN):
            holders.append(path)
        if "profile_id" in table.column_names and set(table.column("profile_id").to_pylist()) & forgotten_ids:
            holders.append(path)
    if holders:
        fail(f"forgotten customers are still in {holders}")
    from deltalake import DeltaTable
    import polars as pl
    delta_rows = DeltaTable(os.path.join(data, "events")).to_pyarrow_table().num_rows
    polars_rows = pl.scan_delta(os.path.join(data, "events")).select(pl.len()).collect().item()
    if delta_rows != events or polars_rows != events:
        fail(f"Delta readers see {delta_rows} (deltalake) and {polars_rows} (Polars) events, not {events}")
    print(f"ok {events} events (deltalake and Polars agree), {len(history.splitlines())} history lines;"
          " no file holds a forgotten customer")


if __name__ == "__main__":
    main()
