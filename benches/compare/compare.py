"""Side-by-side: Strata vs DuckDB vs ClickHouse (chDB) vs plain DataFusion SQL
on the same Parquet files, same thread limit. Run through run.sh.

For every workload (workloads.py) and engine: one fresh process runs the
workload 1 + RUNS times (cold = the first run in that process, hot = median
of the rest); peak RSS is the VmHWM the process reports at exit. Every engine's
answer is checked against every other's before any time is reported: a
mismatch makes the run fail (exit 1) and no results are written. So does any
failure of Strata, or of another engine for another reason than its memory
limit; an engine other than Strata that runs out of its memory limit is shown
as such in the table (no time, no ratio) and the run goes on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import workloads as wl

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ENGINES = ("strata", "duckdb", "chdb", "datafusion")
LABEL = {"strata": "Strata", "duckdb": "DuckDB", "chdb": "chDB", "datafusion": "DataFusion SQL"}

# Attribute predicates picked for the generated data's distributions (the
# harness prints the measured selectivity next to each). (DSL, SQL, columns read)
PREDICATES = {
    "w1_01": ("country = 'GB' AND loyalty_tier = 'platinum'",
              "country = 'GB' AND loyalty_tier = 'platinum'", ["country", "loyalty_tier"]),
    "w1_10": ("country = 'GB'", "country = 'GB'", ["country"]),
    "w1_60": ("consent_email OR consent_push", "(consent_email OR consent_push)",
              ["consent_email", "consent_push"]),
    "w2_min": 2,
    "w3_country": "US",
    "w3_spend": 500,
}


# What an engine prints when it stops at its memory limit (DataFusion,
# DuckDB, ClickHouse).
OUT_OF_MEMORY = ("Resources exhausted", "Out of Memory Error", "MEMORY_LIMIT_EXCEEDED")


def ok(r: dict) -> bool:
    """The engine answered (it did not stop at its memory limit)."""
    return "failed" not in r


def run_proc(cmd: list[str], env=None) -> tuple[dict, int]:
    """Runs cmd, returns (parsed stdout JSON, peak RSS in KiB of that process).

    The peak RSS is the VmHWM the process reports of itself at exit
    (`peak_rss_kib`): wait4()'s ru_maxrss would include this (large) Python
    parent's RSS, inherited through fork/vfork before exec."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        o, e = out.read().decode(), err.read().decode()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}... failed ({p.returncode}):\n{e[-4000:]}\n{o[-2000:]}")
    res = json.loads(o)
    return res, res.get("peak_rss_kib") or ru.ru_maxrss


def engine_cmd(engine: str, w: wl.Workload, args, outdir: str) -> list[str]:
    rel = REPO / "target" / "release"
    common = ["--data", args.data, "--threads", str(args.threads), "--runs", str(args.runs)]
    out = f"{outdir}/{engine}-{w.id}-{{run}}.parquet"
    if engine == "strata":
        kind = w.strata[0]
        cmd = [str(rel / "strata-compare"), *common, kind]
        if kind == "count":
            cmd.append(w.strata[1])
        elif kind == "report":
            cmd.append(w.strata[1])
        else:
            cmd += [w.strata[1], "--columns", ",".join(w.strata[2]), "--out", out]
        return cmd
    sql = w.sql[engine].replace("{out}", out)
    if engine == "datafusion":
        return [str(rel / "datafusion-sql"), *common, sql]
    return [sys.executable, str(HERE / "engine_runner.py"), engine,
            "--threads", str(args.threads), "--runs", str(args.runs), "--sql", sql]


def check_export(path: str) -> tuple:
    t = pq.read_table(path)
    ids = t.column("profile_id")
    email = t.column("email").cast(pa.string())
    sorted_ok = t.num_rows < 2 or pc.all(pc.greater(ids[1:], ids[:-1])).as_py()
    return (t.num_rows, pc.sum(ids).as_py(), pc.sum(pc.utf8_length(email)).as_py(),
            email.null_count, sorted_ok)


# ---- physical reference -------------------------------------------------------

_meta: dict = {}


def column_bytes(data: str, table: str, cols: list[str], months) -> tuple[int, int]:
    """(compressed, uncompressed) bytes of the column chunks of `cols` in
    the files (and, for events, the month partitions) a workload must read."""
    files = wl.table_files(data, table)
    if table == "events":
        lo, hi = months

        def month(f: str) -> str:
            return f.split("event_month=", 1)[1].split("/", 1)[0]

        files = [f for f in files
                 if (lo is None or month(f) >= lo) and (hi is None or month(f) <= hi)]
    comp = unc = 0
    want = set(cols)
    for f in files:
        md = _meta.get(f) or _meta.setdefault(f, pq.ParquetFile(f).metadata)
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            for c in range(rg.num_columns):
                cc = rg.column(c)
                if cc.path_in_schema.split(".")[0] in want:
                    comp += cc.total_compressed_size
                    unc += cc.total_uncompressed_size
    return comp, unc


def memcpy_bandwidth() -> float:
    """Single-thread memcpy bandwidth in GB/s (bytes copied per second; the
    memory traffic is twice that), from bytearray slice copies of 256 MiB."""
    n = 256 << 20
    a = bytearray(os.urandom(1 << 20)) * 256
    b = bytearray(n)
    b[:] = a  # fault the pages in
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(4):
            b[:] = a
        best = max(best, 4 * n / (time.perf_counter() - t0) / 1e9)
    return best


def warm_page_cache(data: str) -> int:
    total = 0
    for f in wl.table_files(data, "profiles") + wl.table_files(data, "events"):
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 24):
                total += len(chunk)
    return total


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": mem / 2**30,
            "kernel": platform.release()}


def git_rev() -> str:
    try:
        rev = subprocess.check_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                      text=True).strip()
        dirty = subprocess.call(["git", "-C", str(REPO), "diff", "--quiet"]) != 0
        return rev + ("+dirty" if dirty else "")
    except Exception:  # noqa: BLE001
        return "unknown"


def cargo_lock_version(name: str) -> str:
    lines = (REPO / "Cargo.lock").read_text().splitlines()
    for i, line in enumerate(lines):
        if line == f'name = "{name}"':
            return lines[i + 1].split('"')[1]
    return "?"


# ---- main -------------------------------------------------------------------------

def fmt_ms(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt_bytes(n: float) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    if n >= 2**20:
        return f"{n / 2**20:.1f} MiB"
    return f"{n / 2**10:.0f} KiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--scale", default="?")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated workload ids")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--results", default=str(REPO / "benches" / "RESULTS.md"))
    args = ap.parse_args()
    args.data = str(Path(args.data).resolve())
    engines = [e for e in args.engines.split(",") if e]
    if "datafusion" in engines and wl.has_dead_files(args.data):
        sys.exit("DataFusion SQL lists the table directories, which hold files their Delta "
                 "logs removed; run `strata vacuum --retain 0h` first or leave it out")

    with open(f"{args.data}/strata.toml", "rb") as f:
        manifest = tomllib.load(f)
    as_of = manifest["as_of"]
    if isinstance(as_of, str):
        as_of = dt.datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    manifest["as_of"] = as_of.astimezone(dt.timezone.utc)
    suite = wl.build(args.data, manifest, PREDICATES)
    if args.only:
        keep = set(args.only.split(","))
        suite = [w for w in suite if w.id in keep]

    total_profiles = sum(pq.ParquetFile(f).metadata.num_rows
                         for f in wl.table_files(args.data, "profiles"))
    n_events = sum(pq.ParquetFile(f).metadata.num_rows
                   for f in wl.table_files(args.data, "events"))
    warmed = warm_page_cache(args.data)
    print(f"dataset {args.data}: {total_profiles} profiles, {n_events} events, "
          f"{warmed / 2**20:.0f} MiB of Parquet (page cache warmed); as_of {manifest['as_of']}",
          file=sys.stderr)

    outdir = tempfile.mkdtemp(prefix="strata-compare-")
    results: dict = {}
    # The commit the binaries were just built from (run.sh builds first).
    versions: dict = {"strata": git_rev()}
    failures: list[str] = []
    for w in suite:
        results[w.id] = {}
        for e in engines:
            t0 = time.time()
            try:
                res, rss = run_proc(engine_cmd(e, w, args, outdir))
            except RuntimeError as err:
                if e != "strata" and any(m in str(err) for m in OUT_OF_MEMORY):
                    results[w.id][e] = {"failed": "out of memory", "stable": True}
                    print(f"  {w.id} {e}: OUT OF MEMORY (reported, no time)\n{str(err)[:600]}",
                          file=sys.stderr)
                    continue
                failures.append(f"{w.id} {e}: {err}")
                print(f"  {w.id} {e}: FAILED\n{err}", file=sys.stderr)
                continue
            if "version" in res:
                versions[e] = res["version"]
            if w.exports:
                canon = check_export(f"{outdir}/{e}-{w.id}-0.parquet")
            elif e == "strata":
                canon = w.canon_strata(res["answer"])
            else:
                canon = w.canon_sql(res["answer"])
            t = res["times_ms"]
            results[w.id][e] = {"cold": t[0], "hot": statistics.median(t[1:]) if len(t) > 1 else t[0],
                                "rss_kib": rss, "canon": canon, "stable": res.get("stable", True)}
            print(f"  {w.id} {e:10s} cold {fmt_ms(t[0]):>9s} hot {fmt_ms(results[w.id][e]['hot']):>9s} "
                  f"rss {rss / 1024:6.0f} MiB  ({time.time() - t0:.1f}s)", file=sys.stderr)
        # Correctness: every engine must agree.
        got = {e: r for e, r in results[w.id].items() if ok(r)}
        ref_engine = next(iter(got), None)
        for e, r in got.items():
            if r["canon"] != got[ref_engine]["canon"]:
                failures.append(f"{w.id}: {LABEL[e]} answered {r['canon']!r}, "
                                f"{LABEL[ref_engine]} answered {got[ref_engine]['canon']!r}")
        if got:
            print(f"  {w.id} answer: {str(got[ref_engine]['canon'])[:200]}", file=sys.stderr)
    for f in glob.glob(f"{outdir}/*"):
        os.remove(f)
    os.rmdir(outdir)

    if failures:
        print("\nFAILED — engines disagree or failed; no results written:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        sys.exit(1)

    # Baseline RSS of each runner process (interpreter + library, one trivial query).
    baseline = {}
    for e in engines:
        if e == "strata":
            continue
        sql = "SELECT 1 AS n"
        cmd = (engine_cmd(e, wl.Workload("base", "", ("count", ""), {e: sql}, None, None), args, "/tmp")
               if e != "datafusion" else [str(REPO / "target/release/datafusion-sql"), "--data", args.data,
                                          "--threads", str(args.threads), "--runs", "0", sql])
        if e != "datafusion":
            cmd[cmd.index("--runs") + 1] = "0"
        _, baseline[e] = run_proc(cmd)
    if "strata" in engines:
        _, baseline["strata"] = run_proc([str(REPO / "target/release/strata-compare"), "--data", args.data,
                                          "--threads", str(args.threads), "--runs", "0", "count",
                                          "profile_id < 0"])

    bw = memcpy_bandwidth()
    write_results(args, suite, results, versions, baseline, bw, total_profiles, n_events, engines)


def write_results(args, suite, results, versions, baseline, bw, total_profiles, n_events, engines):
    m = machine()
    others = [e for e in engines if e != "strata"] if "strata" in engines else []
    L = []
    L.append(f"## Scale {args.scale}\n")
    L.append(f"Generated by `benches/compare/run.sh --scale {args.scale} --threads {args.threads}` "
             f"on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.\n")
    L.append("- **Machine:** "
             f"{m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']:.1f} GiB RAM, Linux {m['kernel']}; "
             f"single-thread memcpy {bw:.1f} GB/s (bytes copied per second).")
    L.append(f"- **Data:** `strata gen` scale {args.scale}, seed 42: {total_profiles:,} profiles, "
             f"{n_events:,} events, as_of from the manifest. Same Parquet files for every engine.")
    L.append(f"- **Threads:** {args.threads} for every engine (Strata/DataFusion: target partitions "
             f"and tokio workers; DuckDB `threads`; chDB `max_threads`, `max_parsing_threads`).")
    vers = [f"Strata {versions.get('strata', '?')} (DataFusion {cargo_lock_version('datafusion')}, release build)",
            f"DuckDB {versions.get('duckdb', '?')}", versions.get("chdb", "chDB ?"),
            f"DataFusion SQL {cargo_lock_version('datafusion')} (same session options as Strata, except `join_reordering`: Strata keeps joins in the order its planner writes them)"]
    L.append("- **Versions:** " + "; ".join(vers) + ".")
    L.append(f"- **Method:** one fresh process per engine and workload; *cold* = first run in "
             f"that process (OS page cache warm), *hot* = median of the next {args.runs}. "
             "Strata is timed in-process through the engine API (`strata-compare`: parse + "
             "plan + execute; opening the dataset is not timed), DuckDB and chDB through their "
             "Python APIs (query + fetch), DataFusion SQL through `SessionContext::sql` "
             "(`datafusion-sql`). Every engine's answer was checked equal to every other's "
             "before these times were kept. Strata and DataFusion SQL run with the same 4 GiB "
             "memory pool; *out of memory* marks an engine that stopped at its limit.")
    L.append("- **Ratio** = Strata hot / other engine hot (< 1: Strata faster).\n")

    L.append("### Times\n")
    head = "| Workload | " + " | ".join(f"{LABEL[e]} cold / hot" for e in engines)
    head += " | " + " | ".join(f"Strata / {LABEL[e]}" for e in others) + " |"
    L.append(head)
    L.append("|" + "---|" * (1 + len(engines) + len(others)))
    for w in suite:
        r = results[w.id]
        row = f"| {w.id} | " + " | ".join(
            f"{fmt_ms(r[e]['cold'])} / {fmt_ms(r[e]['hot'])}" if ok(r[e]) else "out of memory"
            for e in engines)
        row += " | " + " | ".join(f"{r['strata']['hot'] / r[e]['hot']:.2f}" if ok(r[e]) else "–"
                                  for e in others) + " |"
        L.append(row)
    unstable = [f"{w.id} {LABEL[e]}" for w in suite for e in engines
                if not results[w.id][e]["stable"]]
    if unstable:
        L.append("")
        L.append("Raw answers that changed between runs of one process (float sums in a "
                 "different order; equal after rounding to the cent, which is what the "
                 "cross-engine check compares): " + ", ".join(unstable) + ".")
    L.append("")
    L.append("### Workloads and answers\n")
    L.append("| Workload | What | Answer (all engines) |")
    L.append("|---|---|---|")
    for w in suite:
        canon = next(r["canon"] for r in results[w.id].values() if ok(r))
        if isinstance(canon, int):
            ans = f"{canon:,} profiles ({100 * canon / total_profiles:.2f} %)"
        elif w.exports:
            ans = f"{canon[0]:,} rows ({100 * canon[0] / total_profiles:.1f} % of profiles)"
        elif isinstance(canon, dict) and w.id == "W6":
            ans = f"{len(canon)} non-zero cells"
        else:
            ans = json.dumps(canon.get("segments", canon) if isinstance(canon, dict) else canon,
                             default=str)
            ans = ans if len(ans) < 160 else ans[:157] + "…"
        L.append(f"| {w.id} | {w.title} | {ans} |")
    L.append("")
    L.append("### Peak memory (RSS of the whole process, MiB)\n")
    L.append("| Workload | " + " | ".join(LABEL[e] for e in engines) + " |")
    L.append("|" + "---|" * (1 + len(engines)))
    L.append("| (baseline: trivial query) | " + " | ".join(
        f"{baseline.get(e, 0) / 1024:.0f}" for e in engines) + " |")
    for w in suite:
        L.append(f"| {w.id} | " + " | ".join(
            f"{results[w.id][e]['rss_kib'] / 1024:.0f}" if ok(results[w.id][e]) else "–"
            for e in engines) + " |")
    L.append("")
    L.append("### Physical reference\n")
    L.append("Bytes of the Parquet column chunks each workload must read (footers, the columns "
             "and month partitions involved; compressed / uncompressed), and the rate at the hot "
             f"time. Machine memcpy: {bw:.1f} GB/s on one thread.\n")
    L.append("| Workload | Columns read | Compressed | Uncompressed | Strata GB/s (uncompr.) | "
             "Fastest engine | its GB/s (uncompr.) |")
    L.append("|---|---|---|---|---|---|---|")
    for w in suite:
        comp = unc = 0
        cols = []
        for table, cs, months in w.reads:
            c, u = column_bytes(args.data, table, cs, months)
            comp += c
            unc += u
            span = "" if not months else f" [{months[0] or 'all'}..{months[1]}]"
            cols.append(f"{table}({', '.join(cs)}){span}")
        r = results[w.id]
        best = min((e for e in engines if ok(r[e])), key=lambda e: r[e]["hot"])
        gbs = lambda e: unc / (r[e]["hot"] / 1e3) / 1e9  # noqa: E731
        L.append(f"| {w.id} | {'; '.join(cols)} | {fmt_bytes(comp)} | {fmt_bytes(unc)} | "
                 f"{gbs(engines[0]):.2f} | {LABEL[best]} | {gbs(best):.2f} |")
    L.append("")
    write_section(Path(args.results), args.scale, "\n".join(L))
    print("\n".join(L))
    print(f"\nwrote {args.results}", file=sys.stderr)


HEADER = """# Strata comparison results

Written by `benches/compare/run.sh` (see benches/compare/README.md), one
section per scale; a run replaces only its own scale's section.
"""


def write_section(path: Path, scale: str, body: str) -> None:
    """Replaces this scale's section of `path` (between markers), keeping
    the other scales' sections and any text outside the markers."""
    start, end = f"<!-- scale:{scale} -->", f"<!-- /scale:{scale} -->"
    text = path.read_text() if path.exists() else HEADER
    if not text.startswith("# Strata comparison results"):
        text = HEADER
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
