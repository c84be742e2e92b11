#!/bin/sh
# Runs `promtool tsdb bench write` and strata-bench-write on the same label file with the
# same flags, one after the other, and prints both ingestion rates, both peak RSS (GNU time's
# maximum resident set size) and the ratios.
#
#   bench/compare/bench-write.sh [BUILDDIR] [FILE] [extra flags, e.g. --scrapes 300]
#
# BUILDDIR defaults to ./build-release (configure with -Dbuildtype=release), FILE to
# ../shared/data/20kseries.json. Both tools use their defaults (--metrics 10000,
# --scrapes 3000) unless flags are given. Outputs go to a temporary directory.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${1:-$here/build-release}
file=${2:-$here/../shared/data/20kseries.json}
[ $# -ge 1 ] && shift
[ $# -ge 1 ] && shift
strata=$builddir/bench/strata-bench-write
command -v promtool >/dev/null || { echo "promtool not installed" >&2; exit 1; }
[ -x "$strata" ] || { echo "$strata not built (ninja -C $builddir bench/strata-bench-write)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rate() { sed -n 's/.*samples\/sec: *\([0-9.e+]*\).*/\1/p' "$1" | tail -1; }

echo "== promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}') tsdb bench write $* $file"
/usr/bin/time -f 'maxrss_kb %M' -o "$tmp/p.rss" \
  promtool tsdb bench write --out "$tmp/promtool" "$@" "$file" >"$tmp/p.log" 2>&1 || { cat "$tmp/p.log"; exit 1; }
grep -E 'samples|stage=ingestScrapes' "$tmp/p.log" || true
echo "== strata-bench-write $* $file"
/usr/bin/time -f 'maxrss_kb %M' -o "$tmp/s.rss" \
  "$strata" --out "$tmp/strata" "$@" "$file" >"$tmp/s.log" 2>&1 || { cat "$tmp/s.log"; exit 1; }
grep -E 'samples|stage=ingestScrapes' "$tmp/s.log" || true
p=$(rate "$tmp/p.log"); s=$(rate "$tmp/s.log")
prss=$(awk '/maxrss_kb/ {print $2}' "$tmp/p.rss"); srss=$(awk '/maxrss_kb/ {print $2}' "$tmp/s.rss")
awk -v p="$p" -v s="$s" -v pr="$prss" -v sr="$srss" 'BEGIN {
  printf "promtool: %.0f samples/s, peak RSS %.1f MiB\n", p, pr / 1024
  printf "strata:   %.0f samples/s, peak RSS %.1f MiB\n", s, sr / 1024
  printf "ratio strata/promtool: %.2fx samples/s, %.1f%% of the peak RSS\n", s / p, 100 * sr / pr }'
