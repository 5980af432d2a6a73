#!/usr/bin/env bash
# What splitting a sweep into shards costs: the same sweep run whole in one process, and as
# N shards (`--shard I/N`, run at the same time, the cores shared out) followed by
# `sweep-merge`, on the same generated bars. Prints each time, the overhead in percent, and
# checks that every merged result equals the whole one byte for byte.
#
#   scripts/bench-shards.sh            # 100k bars, 400 combinations, N = 1, 2, 4
#   BARS=20000 scripts/bench-shards.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BACKTIDE_BIN:-target/release/backtide}
if [ -z "${BACKTIDE_BIN:-}" ]; then
  cargo build --release -q -p backtide-cli
fi
BARS=${BARS:-100000}
CORES=$(nproc)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

python3 scripts/bench/walk_csv.py "$dir/bars.csv" "$BARS"

args=(sweep --data "$dir/bars.csv" --strategy sma_cross --grid fast=5:100:5 --grid slow=20:400:20
      --constraint "fast < slow" --commission 0.001)
now() { date +%s.%N; }

t0=$(now)
"$BIN" "${args[@]}" --threads "$CORES" --out "$dir/whole.parquet" > /dev/null
t1=$(now)
whole=$(awk "BEGIN { print $t1 - $t0 }")
printf '%-44s %8.3f s\n' "whole sweep, $CORES thread(s)" "$whole"

for n in 1 2 4; do
  threads=$(( CORES / n )); [ "$threads" -ge 1 ] || threads=1
  t0=$(now)
  for i in $(seq 0 $((n - 1))); do
    "$BIN" "${args[@]}" --threads "$threads" --shard "$i/$n" --out "$dir/part-$n-$i.parquet" > /dev/null &
  done
  wait
  "$BIN" sweep-merge "$dir"/part-"$n"-*.parquet --out "$dir/merged-$n.parquet" > /dev/null
  t1=$(now)
  took=$(awk "BEGIN { print $t1 - $t0 }")
  cmp -s "$dir/whole.parquet" "$dir/merged-$n.parquet" || { echo "merged result of $n shards differs"; exit 1; }
  printf '%-44s %8.3f s  (overhead %+.1f %%)\n' "$n shard(s) at once, $threads thread(s) each + merge" "$took" \
    "$(awk "BEGIN { print ($took / $whole - 1) * 100 }")"
done
