#!/bin/bash
# strata-tsdb against promtool 2.42 on a generated OpenMetrics file (values chosen to cover
# Go's %g formatting: 1e+06, 1e-05, NaN, +Inf, 9.007199254740992e+15, ...; short decimals
# with millisecond timestamps):
#  1. `strata-tsdb create-blocks-from openmetrics` and `promtool tsdb create-blocks-from
#     openmetrics` give blocks whose sorted `promtool tsdb dump` outputs are identical;
#  2. `strata-tsdb dump` equals `promtool tsdb dump` line for line on promtool's blocks;
#  3. --match / --min-time / --max-time filter like the equivalent selection;
#  4. out-of-order samples are sorted per series (first of a repeated timestamp kept);
#  5. bad input fails with a non-zero exit and a message naming file and line.
# Exit 77 (meson: skipped) without /usr/bin/promtool or python3.
set -eu
TOOL=$(realpath "$1")
PROMTOOL=/usr/bin/promtool
if [ ! -x "$PROMTOOL" ]; then echo "SKIP: promtool not installed"; exit 77; fi
if ! command -v python3 >/dev/null; then echo "SKIP: python3 not installed"; exit 77; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
python3 - <<'PY'
import random
random.seed(7)
vals = [0, 1, -1, 0.5, 100000, 1e6, 1234567, 123456, 0.0001, 0.00001, 1.5e-7,
        3.14159265358979, 1e21, -2.5e-300, float('nan'), float('inf'), float('-inf'),
        12345.678, 99999.9, 1e100, 2**53]
def fmt(v):
    if v != v: return 'NaN'
    if v == float('inf'): return '+Inf'
    if v == float('-inf'): return '-Inf'
    return repr(v)
with open('in.om', 'w') as f:
    f.write('# HELP m A metric.\n# TYPE m gauge\n')
    t = 1700000000
    for j in range(3):
        for i in range(len(vals) * 20):
            v = vals[i % len(vals)] if j == 0 else random.uniform(-1e4, 1e4)
            f.write('m{job="j%d",inst="a\\"b"} %s %d\n' % (j, fmt(v), t + i * 600))
    # Short decimals and millisecond timestamps: strata's fast decimal path must give
    # exactly the doubles (and truncated seconds*1000) of promtool's ParseFloat.
    f.write('# TYPE d gauge\n')
    for i in range(2000):
        p = random.choice([0, 1, 2, 3, 6, 9])
        f.write('d{k="dec"} %.*f %d.%03d\n' % (p, random.uniform(-1e6, 1e6), t + i * 15,
                                             random.randrange(1000)))
    f.write('# TYPE c_seconds counter\n# UNIT c_seconds seconds\n')
    for i in range(50):
        f.write('c_seconds_total{x="y"} %d %d.5\n' % (i, t + i * 1000))
    f.write('# EOF\n')
PY
"$PROMTOOL" tsdb create-blocks-from openmetrics in.om prom >/dev/null 2>&1
"$TOOL" create-blocks-from openmetrics in.om ours
mkdir -p prom/wal ours/wal  # promtool's read-only DB wants a WAL directory
"$PROMTOOL" tsdb dump prom 2>/dev/null > prom.txt
"$PROMTOOL" tsdb dump ours 2>/dev/null > ours.txt
[ "$(wc -l < prom.txt)" -gt 1000 ] || { echo "FAIL: promtool dumped too little"; exit 1; }
if ! cmp -s <(sort prom.txt) <(sort ours.txt); then
  echo "FAIL: blocks differ (promtool dump, sorted)"; diff <(sort prom.txt) <(sort ours.txt) | head; exit 1
fi
[ "$(ls prom | grep -c .)" = "$(ls ours | grep -c .)" ] || { echo "FAIL: block counts differ"; exit 1; }
"$TOOL" dump prom > strata.txt
if ! cmp -s prom.txt strata.txt; then
  echo "FAIL: strata-tsdb dump != promtool tsdb dump"; diff prom.txt strata.txt | head; exit 1
fi
# Filters: the selection equals grep over promtool's full dump.
"$TOOL" dump prom --match 'm{job="j1"}' > j1.txt
grep '^{__name__="m", inst="a\\"b", job="j1"}' prom.txt > want_j1.txt
cmp -s j1.txt want_j1.txt || { echo "FAIL: --match"; exit 1; }
"$TOOL" dump prom --min-time 1700001200000 --max-time 1700003000000 --match c_seconds_total > c.txt
awk '$1 ~ /^\{__name__="c_seconds_total"/ && $NF >= 1700001200000 && $NF <= 1700003000000' prom.txt > want_c.txt
cmp -s c.txt want_c.txt || { echo "FAIL: --min-time/--max-time"; exit 1; }
[ -s c.txt ] || { echo "FAIL: empty time selection"; exit 1; }
"$TOOL" analyze prom | grep -q '^Series: ' || { echo "FAIL: analyze"; exit 1; }
# compact: leveled compaction of promtool's 2h blocks keeps every sample (read by promtool).
cp -r prom comp
"$TOOL" compact comp > compact.txt
[ "$(ls comp | grep -c '^01')" -lt "$(ls prom | grep -c '^01')" ] || { echo "FAIL: compact merged nothing: $(cat compact.txt)"; exit 1; }
"$PROMTOOL" tsdb dump comp 2>/dev/null | sort > comp.txt
cmp -s comp.txt <(sort prom.txt) || { echo "FAIL: compact changed samples"; exit 1; }
# Out-of-order input (promtool drops or refuses it, depending on its commit batches): strata
# sorts each series, keeps the first of a repeated timestamp, and promtool reads the result.
python3 - <<'PY'
import random
random.seed(11)
base = 1700006400 - 1800  # 30 min before a 2h boundary: two blocks
lines = ['o{k="v"} %d %d' % (i, base + i * 15) for i in range(300)]
lines += ['p %d %d' % (i * 2, base + i * 60) for i in range(50)]
random.shuffle(lines)
lines.insert(150, 'o{k="v"} 999 %d' % (base + 7 * 15))  # repeats t of a sample before it...
lines.insert(0, 'o{k="v"} 7 %d' % (base + 7 * 15))      # ...and this first one is kept
with open('ooo.om', 'w') as f:
    f.write('\n'.join(lines) + '\n# EOF\n')
with open('want_ooo.txt', 'w') as f:
    for i in range(300):
        f.write('{__name__="o", k="v"} %d %d\n' % (i, (base + i * 15) * 1000))
    for i in range(50):
        f.write('{__name__="p"} %d %d\n' % (i * 2, (base + i * 60) * 1000))
PY
"$TOOL" create-blocks-from openmetrics ooo.om ooo
mkdir -p ooo/wal
"$PROMTOOL" tsdb dump ooo 2>/dev/null | sort > ooo.txt
cmp -s ooo.txt <(sort want_ooo.txt) || { echo "FAIL: out-of-order input"; diff ooo.txt <(sort want_ooo.txt) | head; exit 1; }
[ "$(ls ooo | grep -c '^01')" = 2 ] || { echo "FAIL: out-of-order input: expected 2 blocks"; exit 1; }
# Errors: non-zero exit and a message saying what was wrong.
printf 'm 1\n# EOF\n' > bad.om
if "$TOOL" create-blocks-from openmetrics bad.om badout 2> err.txt; then echo "FAIL: accepted bad input"; exit 1; fi
grep -q 'bad.om:1: sample without timestamp' err.txt || { echo "FAIL: message: $(cat err.txt)"; exit 1; }
printf 'm{a="b" c="d"} 1 1\n# EOF\n' > badname.om
if "$TOOL" create-blocks-from openmetrics badname.om badout 2> err.txt; then echo "FAIL: accepted a bad label name"; exit 1; fi
grep -q 'badname.om:1: invalid label name' err.txt || { echo "FAIL: message: $(cat err.txt)"; exit 1; }
if "$TOOL" dump prom --match 'm{' 2> err.txt; then echo "FAIL: accepted bad selector"; exit 1; fi
grep -q -- '--match' err.txt || { echo "FAIL: message: $(cat err.txt)"; exit 1; }
if "$TOOL" dump "$T/missing" 2> err.txt; then echo "FAIL: dumped a missing dir"; exit 1; fi
grep -q 'missing' err.txt || { echo "FAIL: message: $(cat err.txt)"; exit 1; }
echo "PASS: $(wc -l < prom.txt) samples, $(ls prom | grep -vc wal) blocks"
