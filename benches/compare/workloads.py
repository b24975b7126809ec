"""The fixed workload suite of the comparison harness.

Every workload is stated twice: as what Strata runs (a DSL segment, a report,
or a member export) and as hand-written SQL for DuckDB, chDB (ClickHouse) and
plain DataFusion, written from docs/design.md#semantics (as_of from the dataset
manifest; a window "within N days" is `as_of - N days <= event_time <
as_of`; a comparison with NULL is false). The SQL is the independent
correctness check: every engine must return the same answer (after
`canon`) before any time is reported.

The hand-written SQL filters on the `event_month` partition column the way
an analyst who knows the layout would; Strata's planner derives the same
predicate itself.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
from dataclasses import dataclass, field
from typing import Any, Callable

DIALECTS = ("duckdb", "chdb", "datafusion")


def table_files(data: str, table: str) -> list[str]:
    """The Parquet files of a table (`profiles` or `events`) as its Delta log
    lists them: a write's removed files stay on disk until `strata vacuum`,
    so a glob would read them twice. A directory without a log is globbed."""
    root = f"{data}/{table}"
    if os.path.isdir(f"{root}/_delta_log"):
        from deltalake import DeltaTable

        uris = DeltaTable(root).file_uris()
        return sorted(os.path.abspath(u.removeprefix("file://")) for u in uris)
    return on_disk(data, table)


def on_disk(data: str, table: str) -> list[str]:
    return sorted(os.path.abspath(f) for f in glob.glob(globbed(data, table)))


def globbed(data: str, table: str) -> str:
    return f"{data}/events/*/*.parquet" if table == "events" else f"{data}/{table}/*.parquet"


def has_dead_files(data: str) -> bool:
    """Whether a glob of the tables would read files their logs removed."""
    return any(table_files(data, t) != on_disk(data, t) for t in ("profiles", "events"))


@dataclass
class Workload:
    id: str
    title: str
    # What Strata runs: ("count", dsl) | ("report", kind) | ("members", dsl, columns)
    strata: tuple
    # SQL per dialect (already rendered).
    sql: dict[str, str]
    # Turns an engine's raw answer into a comparable value.
    canon_strata: Callable[[Any], Any]
    canon_sql: Callable[[list[dict]], Any]
    # Physical reference: [(table, [columns], (first_month, last_month) | None)]
    reads: list = field(default_factory=list)
    exports: bool = False


class Dialect:
    """The few spots where the three SQL dialects differ."""

    def __init__(self, name: str, data: str):
        self.name = name
        self.data = data

    def events(self) -> str:
        if self.name == "duckdb":
            return (f"read_parquet({self._files('events')}, hive_partitioning = true, "
                    f"hive_types = {{'event_month': VARCHAR}})")
        if self.name == "chdb":
            return f"file({self._files('events')}, Parquet)"
        return "events"

    def profiles(self) -> str:
        if self.name in ("duckdb", "chdb"):
            f = self._files("profiles")
            return f"read_parquet({f})" if self.name == "duckdb" else f"file({f}, Parquet)"
        return "profiles"

    def _files(self, table: str) -> str:
        """The SQL literal naming a table's live files: the glob when it
        matches exactly them, otherwise a list (DuckDB) or a `{a,b}` set of
        paths under the table's root (ClickHouse)."""
        pattern = globbed(self.data, table)
        live = table_files(self.data, table)
        if live == on_disk(self.data, table):
            return f"'{pattern}'"
        if self.name == "duckdb":
            return "[" + ", ".join(f"'{f}'" for f in live) + "]"
        root = os.path.abspath(f"{self.data}/{table}") + "/"
        return "'" + root + "{" + ",".join(f.removeprefix(root) for f in live) + "}'"

    def ts(self, t: dt.datetime) -> str:
        s = t.strftime("%Y-%m-%d %H:%M:%S")
        if self.name == "duckdb":
            return f"TIMESTAMPTZ '{s}+00'"
        if self.name == "chdb":
            return f"toDateTime64('{s}', 6, 'UTC')"
        return f"arrow_cast('{t.strftime('%Y-%m-%dT%H:%M:%SZ')}', 'Timestamp(µs, \"UTC\")')"

    def idiv(self, a: str, b: str) -> str:
        if self.name == "duckdb":
            return f"(({a}) // ({b}))"
        if self.name == "chdb":
            return f"intDiv({a}, {b})"
        return f"(({a}) / ({b}))"

    def epoch_us(self, x: str) -> str:
        if self.name == "duckdb":
            return f"epoch_us({x})"
        if self.name == "chdb":
            return f"toUnixTimestamp64Micro({x})"
        return f"CAST({x} AS BIGINT)"

    def month_index(self, x: str) -> str:
        if self.name == "duckdb":
            return f"(year({x}) * 12 + month({x}) - 1)"
        if self.name == "chdb":
            return f"(toYear({x}) * 12 + toMonth({x}) - 1)"
        return (f"(CAST(date_part('year', {x}) AS BIGINT) * 12 + "
                f"CAST(date_part('month', {x}) AS BIGINT) - 1)")

    def count_if(self, cond: str) -> str:
        if self.name == "chdb":
            return f"countIf({cond})"
        return f"count(*) FILTER (WHERE {cond})"

    def sum_if(self, x: str, cond: str) -> str:
        if self.name == "chdb":
            return f"sumIf({x}, {cond})"
        return f"sum({x}) FILTER (WHERE {cond})"

    def bigint(self, x: str) -> str:
        if self.name == "chdb":
            return f"toInt64({x})"
        return f"CAST({x} AS BIGINT)"

    def export(self, select: str, out: str) -> str:
        if self.name == "duckdb":
            return f"COPY ({select}) TO '{out}' (FORMAT parquet, COMPRESSION snappy)"
        if self.name == "chdb":
            return (f"INSERT INTO FUNCTION file('{out}', Parquet) {select} "
                    f"SETTINGS output_format_parquet_compression_method = 'snappy'")
        return (f"COPY ({select}) TO '{out}' STORED AS PARQUET "
                f"OPTIONS ('format.compression' 'snappy')")


# ---- canonical forms ---------------------------------------------------------

def num(v):
    """JSON numbers may arrive as strings (64-bit ints, decimals)."""
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return v
    f = float(v)
    return int(f) if f.is_integer() and "." not in str(v) else f


def canon_count_sql(rows):
    return int(num(rows[0]["n"]))


def canon_count_strata(a):
    return int(a)


def sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def month_key(t: dt.datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}"


def month_idx(t: dt.datetime) -> int:
    return t.year * 12 + t.month - 1


RFM_RULES = """CASE
      WHEN r <= 2 AND f <= 2 THEN 'hibernating'
      WHEN r <= 2 AND f <= 4 THEN 'at_risk'
      WHEN r <= 2 THEN 'cannot_lose'
      WHEN r = 3 AND f <= 2 THEN 'about_to_sleep'
      WHEN r = 3 AND f = 3 THEN 'need_attention'
      WHEN (r = 3 OR r = 4) AND f >= 4 THEN 'loyal'
      WHEN r = 4 AND f = 1 THEN 'promising'
      WHEN r = 5 AND f = 1 THEN 'new_customers'
      WHEN r >= 4 AND f <= 3 THEN 'potential_loyalists'
      ELSE 'champions' END"""


def build(data: str, manifest: dict, preds: dict) -> list[Workload]:
    """The suite for the dataset at `data`.

    `preds` holds the attribute predicates chosen for this data:
    {"w1_01": (dsl, sql), "w1_10": ..., "w1_60": ..., "w2_min": N,
     "w3_country": "US", "w3_spend": X}.
    """
    as_of: dt.datetime = manifest["as_of"]
    purchase = manifest.get("purchase_types", ["purchase"])
    activity = manifest.get("activity_types", purchase)
    channels = manifest.get("channels", {})
    online = channels.get("online", ["web", "app", "social"])
    offline = channels.get("offline", ["pos"])
    last = as_of - dt.timedelta(microseconds=1)
    days = lambda n: as_of - dt.timedelta(days=n)  # noqa: E731
    asof_us = int(as_of.timestamp()) * 1_000_000
    ds = {n: Dialect(n, data) for n in DIALECTS}
    out: list[Workload] = []

    # ---- W1: attributes only -------------------------------------------------
    for key, label in (("w1_01", "~0.1%"), ("w1_10", "~10%"), ("w1_60", "~60%")):
        dsl, sql_pred, cols = preds[key]
        out.append(Workload(
            id=f"W1{'abc'[len(out)]}",
            title=f"attributes only, {label}: `{dsl}`",
            strata=("count", dsl),
            sql={n: f"SELECT count(*) AS n FROM {d.profiles()} WHERE {sql_pred}"
                 for n, d in ds.items()},
            canon_strata=canon_count_strata, canon_sql=canon_count_sql,
            reads=[("profiles", cols, None)],
        ))

    # ---- W2: at least N purchases in 90 days ---------------------------------
    n2 = preds["w2_min"]
    t90 = days(90)

    def w2(d: Dialect) -> str:
        return f"""SELECT count(*) AS n FROM {d.profiles()} p JOIN (
  SELECT profile_id FROM {d.events()}
  WHERE event_type IN ({sql_list(purchase)}) AND event_time >= {d.ts(t90)} AND event_time < {d.ts(as_of)}
    AND event_month >= '{month_key(t90)}' AND event_month <= '{month_key(last)}'
  GROUP BY profile_id HAVING count(*) >= {n2}) e ON p.profile_id = e.profile_id"""

    assert purchase == ["purchase"], "W2/W3 DSL assumes purchase_types = [purchase]"
    out.append(Workload(
        id="W2", title=f"≥ {n2} purchases in the last 90 days",
        strata=("count", f"count(purchase WITHIN 90d) >= {n2}"),
        sql={n: w2(d) for n, d in ds.items()},
        canon_strata=canon_count_strata, canon_sql=canon_count_sql,
        reads=[("profiles", ["profile_id"], None),
               ("events", ["profile_id", "event_time", "event_type"], (month_key(t90), month_key(last)))],
    ))

    # ---- W3: profile filter AND online spend AND NOT abandoned ---------------
    country, spend = preds["w3_country"], preds["w3_spend"]
    t365, t30 = days(365), days(30)
    dsl3 = (f"country = '{country}' AND sum(purchase.amount WHERE channel IN ({sql_list(online)}) "
            f"WITHIN 365d) > {spend} AND NOT performed(cart_abandoned WITHIN 30d)")

    def w3(d: Dialect) -> str:
        spend_e = d.sum_if("amount", f"event_type = 'purchase' AND channel IN ({sql_list(online)})")
        ab_e = d.count_if(f"event_type = 'cart_abandoned' AND event_time >= {d.ts(t30)}")
        return f"""SELECT count(*) AS n FROM {d.profiles()} p LEFT JOIN (
  SELECT profile_id, {spend_e} AS spend, {ab_e} AS abandoned
  FROM {d.events()}
  WHERE event_type IN ('purchase', 'cart_abandoned') AND event_time >= {d.ts(t365)} AND event_time < {d.ts(as_of)}
    AND event_month >= '{month_key(t365)}' AND event_month <= '{month_key(last)}'
  GROUP BY profile_id) b ON p.profile_id = b.profile_id
WHERE p.country = '{country}' AND coalesce(b.spend, 0) > {spend} AND coalesce(b.abandoned, 0) = 0"""

    out.append(Workload(
        id="W3", title=f"`{dsl3}`",
        strata=("count", dsl3),
        sql={n: w3(d) for n, d in ds.items()},
        canon_strata=canon_count_strata, canon_sql=canon_count_sql,
        reads=[("profiles", ["profile_id", "country"], None),
               ("events", ["profile_id", "event_time", "event_type", "channel", "amount"],
                (month_key(t365), month_key(last)))],
    ))

    all_months = (None, month_key(last))

    # ---- W4: RFM ---------------------------------------------------------------
    def w4(d: Dialect) -> str:
        n = d.bigint("count(*) OVER ()")

        def score(order: str) -> str:
            rank = d.bigint(f"rank() OVER (ORDER BY {order})")
            return "1 + " + d.idiv(f"5 * ({rank} - 1)", n)

        recency = d.idiv(f"{asof_us} - {d.epoch_us('last_t')}", "86400000000")

        return f"""WITH b AS (
  SELECT profile_id, max(event_time) AS last_t, count(*) AS frequency, sum(amount) AS monetary
  FROM {d.events()}
  WHERE event_type IN ({sql_list(purchase)}) AND event_time < {d.ts(as_of)} AND event_month <= '{month_key(last)}'
  GROUP BY profile_id),
s AS (
  SELECT profile_id, frequency, coalesce(monetary, 0) AS monetary,
         {recency} AS recency_days
  FROM b),
sc AS (
  SELECT monetary,
         {score('recency_days DESC')} AS r,
         {score('frequency ASC')} AS f,
         {score('monetary ASC')} AS m
  FROM s)
SELECT {RFM_RULES} AS segment, m, count(*) AS profiles, sum(monetary) AS revenue
FROM sc GROUP BY 1, 2"""

    def canon_w4_sql(rows):
        seg: dict = {}
        ms: dict = {}
        for r in rows:
            p, rev = int(num(r["profiles"])), float(num(r["revenue"]))
            a = seg.setdefault(r["segment"], [0, 0.0])
            a[0] += p
            a[1] += rev
            ms[int(num(r["m"]))] = ms.get(int(num(r["m"])), 0) + p
        return {"segments": {k: (v[0], round(v[1], 2)) for k, v in seg.items()}, "m": ms}

    def canon_w4_strata(a):
        seg = {r["segment"]: (int(num(r["profiles"])), round(float(num(r["revenue"])), 2))
               for r in a["segments"] if int(num(r["profiles"])) > 0}
        ms = {int(num(r["value"])): int(num(r["m_profiles"]))
              for r in a["scores"] if int(num(r["m_profiles"])) > 0}
        return {"segments": seg, "m": ms}

    out.append(Workload(
        id="W4", title="RFM (bins 5): segment sizes and revenue, m-score distribution",
        strata=("report", "rfm"),
        sql={n: w4(d) for n, d in ds.items()},
        canon_strata=canon_w4_strata, canon_sql=canon_w4_sql,
        reads=[("events", ["profile_id", "event_time", "event_type", "amount"], all_months)],
    ))

    # ---- W5: channel mix ---------------------------------------------------------
    # Both tables of the report: classes, and per channel (distinct profiles,
    # orders, revenue), as one UNION ALL with a `tbl` discriminator.
    def w5(d: Dialect) -> str:
        distinct = "uniqExact(profile_id)" if d.name == "chdb" else "count(DISTINCT profile_id)"
        return f"""WITH pu AS (
  SELECT profile_id, channel, amount FROM {d.events()}
  WHERE event_type IN ({sql_list(purchase)}) AND event_time < {d.ts(as_of)} AND event_month <= '{month_key(last)}'),
b AS (
  SELECT profile_id,
         {d.count_if(f'channel IN ({sql_list(online)})')} AS online_n,
         {d.count_if(f'channel IN ({sql_list(offline)})')} AS offline_n,
         count(*) AS orders, sum(amount) AS revenue
  FROM pu GROUP BY profile_id)
SELECT 'class' AS tbl,
       CASE WHEN online_n > 0 AND offline_n > 0 THEN 'omnichannel'
            WHEN online_n > 0 THEN 'online_only'
            WHEN offline_n > 0 THEN 'offline_only'
            ELSE 'none' END AS key,
       count(*) AS profiles, coalesce(sum(orders), 0) AS orders, coalesce(sum(revenue), 0) AS revenue
FROM {d.profiles()} p LEFT JOIN b ON p.profile_id = b.profile_id
GROUP BY 2
UNION ALL
SELECT 'channel' AS tbl, channel AS key, {distinct} AS profiles, count(*) AS orders,
       coalesce(sum(amount), 0) AS revenue
FROM pu GROUP BY channel"""

    def row5(r):
        return (int(num(r["profiles"])), int(num(r["orders"])), round(float(num(r["revenue"])), 2))

    def canon_w5_sql(rows):
        return {"classes": {r["key"]: row5(r) for r in rows
                            if r["tbl"] == "class" and int(num(r["profiles"])) > 0},
                "channels": {r["key"]: row5(r) for r in rows if r["tbl"] == "channel"}}

    def canon_w5_strata(a):
        return {"classes": {r["class"]: row5(r) for r in a["classes"] if int(num(r["profiles"])) > 0},
                "channels": {r.get("channel"): row5(r) for r in a["channels"]}}

    out.append(Workload(
        id="W5", title="channel mix: classes (profiles, orders, revenue) and per-channel table",
        strata=("report", "channel-mix"),
        sql={n: w5(d) for n, d in ds.items()},
        canon_strata=canon_w5_strata, canon_sql=canon_w5_sql,
        reads=[("profiles", ["profile_id"], None),
               ("events", ["profile_id", "event_time", "event_type", "channel", "amount"], all_months)],
    ))

    # ---- W6: monthly retention ---------------------------------------------------
    def w6(d: Dialect) -> str:
        return f"""WITH a AS (
  SELECT DISTINCT profile_id, {d.month_index('event_time')} AS p
  FROM {d.events()}
  WHERE event_type IN ({sql_list(activity)}) AND event_time < {d.ts(as_of)} AND event_month <= '{month_key(last)}'),
c AS (SELECT profile_id, min(p) AS c FROM a GROUP BY profile_id)
SELECT c.c AS cohort, a.p - c.c AS k, count(*) AS active
FROM a JOIN c ON a.profile_id = c.profile_id
GROUP BY 1, 2"""

    def canon_w6_sql(rows):
        return {(int(num(r["cohort"])), int(num(r["k"]))): int(num(r["active"])) for r in rows}

    def canon_w6_strata(a):
        out6 = {}
        for r in a["cohorts"]:
            act = int(num(r["active"]))
            if act == 0:
                continue
            start = dt.date.fromisoformat(str(r["cohort_start"])[:10])
            out6[(start.year * 12 + start.month - 1, int(num(r["period_index"])))] = act
        return out6

    out.append(Workload(
        id="W6", title="monthly retention matrix (non-zero cells)",
        strata=("report", "retention"),
        sql={n: w6(d) for n, d in ds.items()},
        canon_strata=canon_w6_strata, canon_sql=canon_w6_sql,
        reads=[("events", ["profile_id", "event_time", "event_type"], all_months)],
    ))

    # ---- W7: lifecycle -----------------------------------------------------------
    tc = days(90)
    tp = tc - dt.timedelta(days=90)

    def w7(d: Dialect) -> str:
        return f"""WITH b AS (
  SELECT profile_id, min(event_time) AS first_t,
         {d.count_if(f'event_time >= {d.ts(tc)}')} AS in_c,
         {d.count_if(f'event_time >= {d.ts(tp)} AND event_time < {d.ts(tc)}')} AS in_p
  FROM {d.events()}
  WHERE event_type IN ({sql_list(activity)}) AND event_time < {d.ts(as_of)} AND event_month <= '{month_key(last)}'
  GROUP BY profile_id)
SELECT CASE WHEN b.profile_id IS NULL THEN 'never'
            WHEN first_t >= {d.ts(tc)} THEN 'new'
            WHEN in_c > 0 AND in_p > 0 THEN 'returning'
            WHEN in_c > 0 THEN 'resurrecting'
            WHEN in_p > 0 THEN 'dormant'
            ELSE 'lost' END AS state,
       count(*) AS profiles
FROM {d.profiles()} p LEFT JOIN b ON p.profile_id = b.profile_id
GROUP BY 1"""

    def canon_w7(rows):
        return {r["state"]: int(num(r["profiles"])) for r in rows
                if r["state"] != "churned" and int(num(r["profiles"])) > 0}

    out.append(Workload(
        id="W7", title="lifecycle states (W = 90 days)",
        strata=("report", "lifecycle"),
        sql={n: w7(d) for n, d in ds.items()},
        canon_strata=lambda a: canon_w7(a["states"]), canon_sql=canon_w7,
        reads=[("profiles", ["profile_id"], None),
               ("events", ["profile_id", "event_time", "event_type"], all_months)],
    ))

    # ---- W8: member export ---------------------------------------------------------
    dsl8, pred8, cols8 = preds["w1_60"]
    out.append(Workload(
        id="W8", title=f"export members (profile_id, email) of `{dsl8}` to Parquet (snappy)",
        strata=("members", dsl8, ["email"]),
        sql={n: d.export(f"SELECT profile_id, email FROM {d.profiles()} WHERE {pred8} "
                         f"ORDER BY profile_id", "{out}")
             for n, d in ds.items()},
        canon_strata=None, canon_sql=None,  # checked from the written files
        reads=[("profiles", sorted(set(cols8) | {"profile_id", "email"}), None)],
        exports=True,
    ))
    return out
