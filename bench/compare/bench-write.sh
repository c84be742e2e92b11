#!/bin/sh
# Runs `promtool tsdb bench write` and strata-bench-write on the same label file with the
# same flags, one after the other, and prints both ingestion rates and their ratio.
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
promtool tsdb bench write --out "$tmp/promtool" "$@" "$file" >"$tmp/p.log" 2>&1 || { cat "$tmp/p.log"; exit 1; }
grep -E 'samples|stage=ingestScrapes' "$tmp/p.log" || true
echo "== strata-bench-write $* $file"
"$strata" --out "$tmp/strata" "$@" "$file" >"$tmp/s.log" 2>&1 || { cat "$tmp/s.log"; exit 1; }
grep -E 'samples|stage=ingestScrapes' "$tmp/s.log" || true
p=$(rate "$tmp/p.log"); s=$(rate "$tmp/s.log")
awk -v p="$p" -v s="$s" 'BEGIN { printf "promtool: %.0f samples/s\nstrata:   %.0f samples/s\nratio strata/promtool: %.2fx\n", p, s, s / p }'
