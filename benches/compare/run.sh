#!/usr/bin/env bash
# Side-by-side benchmark: Strata vs DuckDB vs ClickHouse (chDB) vs plain
# DataFusion SQL on one generated dataset, same Parquet files, same threads.
#
#   benches/compare/run.sh [--scale s|m] [--threads N] [--runs N] [--only W1a,W4] [--engines strata,duckdb,...]
#
# Defaults: --scale m (1M profiles, ~50M events), --threads 2, --runs 5 (hot
# runs after the cold one). --scale s (100k profiles) is the quick run.
#
# What it does:
#   1. creates benches/compare/.venv from requirements.txt (PyPI: duckdb, chdb, pyarrow, deltalake) if missing;
#   2. builds `strata`, `strata-compare` and `datafusion-sql` (release);
#   3. generates the dataset into target/bench-data/<scale> (seed 42) if missing;
#   4. runs the suite (benches/compare/workloads.py) on every engine, checks
#      that all answers agree (a mismatch fails the run), and writes
#      benches/RESULTS.md (times, peak RSS, ratios, bytes read, GB/s, machine).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
scale=m
threads=2
pass=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --scale) scale="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --runs|--only|--engines|--results) pass+=("$1" "$2"); shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$scale" in s|m|l) ;; *) echo "--scale must be s, m or l" >&2; exit 2 ;; esac

venv="$here/.venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import duckdb, chdb, pyarrow, deltalake' 2>/dev/null; then
    echo "== setting up $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet -r "$here/requirements.txt"
fi

echo "== building (release)" >&2
(cd "$repo" && cargo build --release -p strata-cli -p strata-benches --bins)

data="$repo/target/bench-data/$scale"
if [[ ! -f "$data/strata.toml" ]]; then
    echo "== generating scale $scale into $data" >&2
    mkdir -p "$repo/target/bench-data"
    "$repo/target/release/strata" gen --scale "$scale" --seed 42 --out "$data"
fi
# Data generated before the tables were Delta tables gets its logs (no-op
# when it has them).
"$repo/target/release/strata" upgrade --data "$data" >&2

cd "$here"
exec "$venv/bin/python" compare.py --data "$data" --scale "$scale" --threads "$threads" "${pass[@]}"
