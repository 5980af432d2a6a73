#!/usr/bin/env bash
# The cluster's costs on this machine, beside a throwaway PostgreSQL (with-postgres.sh):
#   1. a sweep run whole by `backtide sweep` (in-process), then the same sweep submitted to an
#      API node and run by 1 worker (all cores) and by 2 workers (a core each), from
#      submission to the merged result: the shard overhead in percent;
#   2. claim latency: from a small backtest's submission to a worker starting it (idle
#      cluster, one job at a time), median and 90th percentile;
#   3. jobs/s through the PostgreSQL store: 300 small backtests submitted at once, run by 2
#      workers of 2 job slots each.
# Checks that the cluster's sweep equals the in-process one combination by combination.
#
#   scripts/bench-cluster.sh               # 20k bars, 1,000 combinations
#   BARS=100000 scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BACKTIDE_TEST_POSTGRES:-}" ]; then
  exec ./scripts/with-postgres.sh "$0" "$@"
fi
BIN=${BACKTIDE_BIN:-target/release/backtide}
if [ -z "${BACKTIDE_BIN:-}" ]; then
  cargo build --release -q -p backtide-cli
fi
BIN=$(realpath "$BIN")
BARS=${BARS:-20000}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

python3 scripts/bench/walk_csv.py "$dir/bars.csv" "$BARS"

psql_admin() { psql -q -X "$BACKTIDE_TEST_POSTGRES" "$@"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

# Starts an API node and N workers (job slots and sweep threads each) on a fresh database.
start_cluster() {
  local n=$1 slots=$2 threads=$3 db="bench_$RANDOM$RANDOM"
  psql_admin -c "CREATE DATABASE $db" >/dev/null
  export BACKTIDE_STORE="${BACKTIDE_TEST_POSTGRES%/*}/$db"
  rm -rf "$dir/data"
  BACKTIDE_LOG=warn "$BIN" serve --addr "127.0.0.1:$port" --workers 0 --data-dir "$dir/data" \
    > /dev/null 2> "$dir/api.log" &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "$base/readyz" > /dev/null && break; sleep 0.1; done
  for i in $(seq 1 "$n"); do
    BACKTIDE_LOG=warn "$BIN" worker --workers "$slots" --threads "$threads" \
      --data-dir "$dir/data" 2> "$dir/worker-$i.log" &
    pids+=($!)
  done
  curl -sf -X POST "$base/v1/datasets?name=bars" --data-binary @"$dir/bars.csv" > /dev/null
}

stop_cluster() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

grid=(--grid fast=5:104:1 --grid slow=150:159:1)
sweep_body='{"dataset": "bars", "strategy": {"name": "sma_cross"},
  "grid": {"fast": "5:104:1", "slow": "150:159:1"}, "objective": {"key": "sharpe_ratio"}}'

t0=$(date +%s.%N)
"$BIN" sweep --data "$dir/bars.csv" --strategy sma_cross "${grid[@]}" --maximize sharpe_ratio \
  --out "$dir/whole.json" > /dev/null
t1=$(date +%s.%N)
whole=$(python3 -c "print($t1 - $t0)")

run_sweep() {
  python3 - "$base" "$sweep_body" "$dir/whole.json" <<'PY'
import json, sys, time, urllib.request
base, body, whole = sys.argv[1], sys.argv[2], sys.argv[3]
def call(method, path, data=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if data is None else data.encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
t0 = time.perf_counter()
job = call("POST", "/v1/sweeps", body)
while True:
    j = call("GET", f"/v1/jobs/{job['id']}")
    if j["state"] in ("succeeded", "failed", "cancelled"):
        break
    time.sleep(0.005)
elapsed = time.perf_counter() - t0
assert j["state"] == "succeeded", j
served = call("GET", f"/v1/jobs/{job['id']}/result?limit=10000")
cli = json.load(open(whole))
assert served["combos"] == cli["combos"] and served["best"] == cli["best"], "results differ"
assert served["overfitting"] == cli["overfitting"], "overfitting checks differ"
print(f"{elapsed:.3f}")
PY
}

cores=$(nproc)
start_cluster 1 1 "$cores"
one=$(run_sweep)
stop_cluster
start_cluster 2 1 1
two=$(run_sweep)

# Claim latency and throughput on the 2-worker cluster (2 job slots each for throughput).
latency=$(python3 - "$base" <<'PY'
import json, sys, time, urllib.request, statistics
base = sys.argv[1]
def call(method, path, data=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if data is None else data.encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
from datetime import datetime
def at(s): return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
lat = []
for i in range(40):
    body = json.dumps({"dataset": "GOOG", "strategy": {"name": "sma_cross", "params": {"fast": 5 + i % 20, "slow": 40}}})
    job = call("POST", "/v1/backtests", body)
    while True:
        j = call("GET", f"/v1/jobs/{job['id']}")
        if j["state"] == "succeeded":
            break
        time.sleep(0.002)
    lat.append(at(j["started_at"]) - at(j["created_at"]))
lat.sort()
print(f"{statistics.median(lat) * 1000:.0f} {lat[int(0.9 * len(lat))] * 1000:.0f}")
PY
)
stop_cluster
start_cluster 2 2 1
throughput=$(python3 - "$base" <<'PY'
import json, sys, time, urllib.request
base = sys.argv[1]
def call(method, path, data=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if data is None else data.encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
n = 300
t0 = time.perf_counter()
ids = [call("POST", "/v1/backtests", json.dumps({"dataset": "GOOG",
        "strategy": {"name": "sma_cross", "params": {"fast": 5 + i % 30, "slow": 40 + i % 7}}}))["id"]
       for i in range(n)]
submitted = time.perf_counter() - t0
while True:
    counts = call("GET", "/v1/jobs?state=succeeded&limit=1")["total"]
    if counts >= n:
        break
    time.sleep(0.02)
elapsed = time.perf_counter() - t0
print(f"{n / elapsed:.1f} {n / submitted:.0f}")
PY
)
stop_cluster

python3 - "$whole" "$one" "$two" "$latency" "$throughput" "$BARS" "$cores" <<'PY'
import sys
whole, one, two = map(float, sys.argv[1:4])
lat_med, lat_p90 = sys.argv[4].split()
jobs, submits = sys.argv[5].split()
bars, cores = sys.argv[6], sys.argv[7]
print(f"sweep of 1,000 sma_cross combinations on {bars} bars, {cores} cores, same run:")
print(f"  backtide sweep (in-process)           {whole:7.3f} s")
print(f"  cluster, 1 worker x {cores} threads          {one:7.3f} s  ({(one / whole - 1) * 100:+.1f} %)")
print(f"  cluster, 2 workers x 1 thread         {two:7.3f} s  ({(two / whole - 1) * 100:+.1f} %)")
print(f"claim latency (submission to start, idle cluster, 40 backtests): median {lat_med} ms, p90 {lat_p90} ms")
print(f"throughput (300 small backtests, 2 workers x 2 slots): {jobs} jobs/s (submissions {submits}/s)")
PY
