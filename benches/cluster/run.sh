#!/usr/bin/env bash
# Ballista vs embedded: W2 (≥ 2 purchases in 90 days) and W4 (RFM report) on
# one generated dataset, embedded in one process vs on a Ballista cluster of
# 1 scheduler + 2 executors on this machine (loopback).
#
#   benches/cluster/run.sh [--scale s|m|l] [--data DIR] [--runs N] [--tasks N]
#
# Defaults: --scale l (10M profiles, ~500M events; generated once into
# target/bench-data/l, ~25 GB of disk and several minutes), --runs 3 hot runs
# after the cold one, --tasks 1 task slot per executor (2 executors × 1 = the
# 2 threads the embedded engine gets). --data uses an existing dataset of
# that scale instead (e.g. the comparison harness's target/bench-data/m).
#
# Both sides run through `strata-compare` (the engine API, timed in-process,
# opening the dataset not timed); their answers must be equal (float sums
# rounded to the cent) or the run fails. Prints a markdown table to paste
# into benches/RESULTS.md ("Ballista").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
scale=l
data=""
runs=3
tasks=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --scale) scale="$2"; shift 2 ;;
        --data) data="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --tasks) tasks="$2"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

echo "== building (release, --features strata-cli/ballista,strata-core/ballista)" >&2
(cd "$repo" && cargo build --release -p strata-cli -p strata-benches --bins --features strata-cli/ballista,strata-core/ballista)
bin="$repo/target/release"

data="${data:-$repo/target/bench-data/$scale}"
if [[ ! -f "$data/strata.toml" ]]; then
    echo "== generating scale $scale into $data" >&2
    mkdir -p "$repo/target/bench-data"
    "$bin/strata" gen --scale "$scale" --seed 42 --out "$data"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

sched=$(free_port)
RUST_LOG=warn "$bin/strata" cluster scheduler --bind "127.0.0.1:$sched" >"$work/scheduler.log" 2>&1 &
pids+=($!)
for i in 1 2; do
    mkdir -p "$work/e$i"
    RUST_LOG=warn "$bin/strata" cluster executor --scheduler "127.0.0.1:$sched" \
        --port "$(free_port)" --grpc-port "$(free_port)" --concurrent-tasks "$tasks" \
        --work-dir "$work/e$i" >"$work/executor$i.log" 2>&1 &
    pids+=($!)
done
sleep 2

run() { # mode workload-args...
    local mode="$1"; shift
    local extra=()
    [[ "$mode" == cluster ]] && extra=(--cluster "df://127.0.0.1:$sched")
    "$bin/strata-compare" --data "$data" --threads 2 --runs "$runs" "${extra[@]}" "$@"
}

declare -A out
for w in W2 W4; do
    case "$w" in
        W2) args=(count "count(purchase WITHIN 90d) >= 2") ;;
        W4) args=(report rfm) ;;
    esac
    for mode in embedded cluster; do
        echo "== $w $mode" >&2
        out["$w.$mode"]="$(run "$mode" "${args[@]}")"
    done
done

python3 - "$scale" "$tasks" "${out[W2.embedded]}" "${out[W2.cluster]}" "${out[W4.embedded]}" "${out[W4.cluster]}" <<'EOF'
import json, statistics, sys
scale, tasks = sys.argv[1], sys.argv[2]
res = [json.loads(a) for a in sys.argv[3:]]

def canon(v):
    if isinstance(v, float):
        return round(v, 2)
    if isinstance(v, dict):
        return {k: canon(x) for k, x in v.items()}
    if isinstance(v, list):
        return [canon(x) for x in v]
    return v

def fmt(ms):
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"

print(f"| Workload (scale {scale}) | embedded, 2 threads: cold / hot | Ballista, 1 scheduler + 2 executors × {tasks} task: cold / hot | Ballista / embedded (hot) | answers |")
print("|---|---|---|---|---|")
for name, (e, c) in zip(["W2 count", "W4 RFM report"], [(res[0], res[1]), (res[2], res[3])]):
    same = canon(e["answer"]) == canon(c["answer"])
    if not same:
        print(f"MISMATCH in {name}:\n{e['answer']}\n{c['answer']}", file=sys.stderr)
        sys.exit(1)
    eh, ch = statistics.median(e["times_ms"][1:]), statistics.median(c["times_ms"][1:])
    print(f"| {name} | {fmt(e['times_ms'][0])} / {fmt(eh)} | {fmt(c['times_ms'][0])} / {fmt(ch)} | {ch / eh:.2f} | equal |")
EOF
