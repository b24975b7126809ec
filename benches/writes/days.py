#!/usr/bin/env python3
"""Writes N daily event files (CSV) for `strata append` against a generated
dataset: each day's events belong to customers drawn from the dataset's
profiles (plus a few new ones), with the generator's event types, channels
and amounts, on consecutive days ending the day before the dataset's as_of.

    days.py --data target/bench-data/m --days 30 --events 50000 --out DIR
    days.py --data target/bench-data/m --days 1 --events 1000000 --out DIR

Deterministic for a given --seed. Prints the files written.
"""

import argparse
import datetime as dt
import glob
import os
import random

import pyarrow.parquet as pq

TYPES = [("page_view", 0.45), ("email_open", 0.15), ("email_click", 0.05), ("cart_add", 0.12),
         ("cart_abandoned", 0.05), ("purchase", 0.12), ("refund", 0.01), ("push_open", 0.05)]
CHANNELS = ["web", "app", "social", "pos"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--events", type=int, default=50_000, help="events per day")
    p.add_argument("--new-per-day", type=int, default=100, help="new customers per day")
    p.add_argument("--end", default="2026-01-01", help="the day after the last day written")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    rng = random.Random(a.seed)
    files = sorted(glob.glob(os.path.join(a.data, "profiles", "*.parquet")))
    ids = [x for f in files for x in pq.read_table(f, columns=["external_id"]).column(0).to_pylist()]
    names, weights = zip(*TYPES)
    end = dt.datetime.fromisoformat(a.end).replace(tzinfo=dt.timezone.utc)
    os.makedirs(a.out, exist_ok=True)
    for d in range(a.days):
        day = end - dt.timedelta(days=a.days - d)
        new = [f"new-{day:%Y%m%d}-{k}" for k in range(a.new_per_day)]
        path = os.path.join(a.out, f"day-{d + 1:02}.csv")
        kinds = rng.choices(names, weights, k=a.events)
        with open(path, "w") as f:
            f.write("customer,ts,kind,total,channel\n")
            for kind in kinds:
                who = rng.choice(new) if rng.random() < 0.01 else rng.choice(ids)
                t = day + dt.timedelta(seconds=rng.randrange(86_400))
                total = f"{rng.randrange(500, 30_000) / 100:.2f}" if kind in ("purchase", "refund") else ""
                f.write(f"{who},{t:%Y-%m-%d %H:%M:%S},{kind},{total},{rng.choice(CHANNELS)}\n")
        print(path)


if __name__ == "__main__":
    main()
