#!/bin/bash
# Runs two builds of chunkenc_bench alternately on one CPU, N rounds, and prints one line per
# round: the core-throughput probe (read just before, from NEW), then the `mix` encode and
# decode rates of both builds in alternating order. On a host whose cores are shared the
# same binary moves by 1.5x within seconds; only builds run side by side, with the probe next
# to them, can be compared (BENCHMARKS.md, chunkenc).
#
#   bench/chunkenc/alternate.sh OLD_BENCH NEW_BENCH [ROUNDS] [CPU]
#
# OLD_BENCH / NEW_BENCH: paths of chunkenc_bench binaries (e.g. a copy of
# build-release/bench/chunkenc/chunkenc_bench built at another commit).
set -euo pipefail
old=$1
new=$2
rounds=${3:-10}
cpu=${4:-1}
rates() {
  taskset -c "$cpu" "$1" --benchmark_filter="$2" --benchmark_min_time=0.3 2>&1 |
    awk '/^BM_/ { for (i = 1; i <= NF; i++) if ($i ~ /items_per_second=/) {
           split($i, a, "="); name = $1; sub(/^BM_Xor/, "", name); sub(/\/mix$/, "", name)
           printf "%s=%s ", name, a[2] } }'
}
for r in $(seq 1 "$rounds"); do
  probe=$(rates "$new" 'BM_CoreThroughputProbe')
  line="$(date -u +%H:%M:%S) probe=${probe#BM_CoreThroughputProbe=}"
  if ((r % 2)); then order="new old"; else order="old new"; fi
  for which in $order; do
    if [ "$which" = old ]; then bin=$old; else bin=$new; fi
    line="$line| $which $(rates "$bin" '(Decode|DecodeToBuffer|Encode)/mix$')"
  done
  echo "$line"
done
