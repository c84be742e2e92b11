#!/bin/bash
# Backfill of one OpenMetrics file by strata, promtool 2.42 and VictoriaMetrics:
#
#   bench/compare/backfill.sh [BUILDDIR] [FILE] [--series N] [--samples N] [--keep]
#
#  - `strata-tsdb create-blocks-from openmetrics FILE DIR` (BUILDDIR defaults to
#    ./build-release; configure it with -Dbuildtype=release),
#  - `promtool tsdb create-blocks-from openmetrics FILE DIR`,
#  - VictoriaMetrics: /usr/bin/victoria-metrics on 127.0.0.1 (free port, temporary
#    -storageDataPath, retention 100y), FILE converted beforehand (untimed) to the
#    Prometheus text format with millisecond timestamps and POSTed to
#    /api/v1/import/prometheus, then /internal/force_flush; wall time from the start of the
#    POST to the end of the flush, peak RSS = the server's VmHWM (it includes its startup).
# Strata and promtool run under /usr/bin/time (wall seconds, peak RSS). Printed: wall time,
# peak RSS and bytes on disk of all three, strata/promtool ratios, and index bytes per
# series of strata's and promtool's blocks (the same data).
#
# Without FILE, a file of realistic data is generated (and cached under $TMPDIR): node- and
# service-exporter-like families (CPU/memory/filesystem/network gauges and counters,
# request counters, a latency histogram, constant `up`/info series), 17,000 series with
# 1,441 samples each at 15 s with millisecond scrape jitter (24.5 M samples, 6 h, four 2 h
# blocks): the size of issue 4's reference file. --series/--samples make it smaller.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$here/build-release
file=
series=17000
samples=1441
keep=0
pos=0
while [ $# -gt 0 ]; do
  case "$1" in
    --series) series=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -*) echo "unknown flag $1" >&2; exit 2 ;;
    *) if [ $pos = 0 ]; then builddir=$1; else file=$1; fi; pos=$((pos + 1)); shift ;;
  esac
done
strata=$builddir/examples/strata-tsdb/strata-tsdb
[ -x "$strata" ] || { echo "$strata not built (ninja -C $builddir examples/strata-tsdb/strata-tsdb)" >&2; exit 1; }
command -v promtool >/dev/null || { echo "promtool not installed" >&2; exit 1; }
vm=$(command -v victoria-metrics || true)
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) not installed" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/strata-backfill-XXXXXX")
vmpid=
cleanup() {
  if [ -n "$vmpid" ]; then kill "$vmpid" 2>/dev/null || true; wait "$vmpid" 2>/dev/null || true; fi
  if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$file" ]; then
  file=${TMPDIR:-/tmp}/strata-backfill-${series}x${samples}.om
  if [ ! -s "$file" ]; then
    echo "generating $file ($series series x $samples samples) ..."
    python3 - "$file.tmp" "$series" "$samples" <<'PY'
import math, random, sys
out, nseries, nsamples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(20261121)
START = 1700000123  # seconds; not block-aligned, as real data
INTERVAL = 15000    # ms
# (family, type, extra label sets per instance, value kind)
FAMILIES = [
    ("node_cpu_seconds_total", "counter",
     [{"cpu": str(c), "mode": m} for c in range(4)
      for m in ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")], "counter_f"),
    ("node_memory_MemAvailable_bytes", "gauge", [{}], "bytes"),
    ("node_memory_Cached_bytes", "gauge", [{}], "bytes"),
    ("node_filesystem_avail_bytes", "gauge",
     [{"device": "/dev/vda%d" % d, "fstype": "ext4", "mountpoint": mp}
      for d, mp in ((1, "/"), (2, "/var"), (3, "/home"))], "bytes"),
    ("node_network_receive_bytes_total", "counter",
     [{"device": d} for d in ("eth0", "eth1", "lo")], "counter_i"),
    ("node_network_transmit_bytes_total", "counter",
     [{"device": d} for d in ("eth0", "eth1", "lo")], "counter_i"),
    ("node_load1", "gauge", [{}], "load"),
    ("http_requests_total", "counter",
     [{"code": c, "handler": h, "method": m} for h in ("/api/v1/query", "/metrics", "/")
      for m in ("GET", "POST") for c in ("200", "500")], "counter_i"),
    ("http_request_duration_seconds", "histogram",
     [{"handler": h, "le": le} for h in ("/api/v1/query", "/metrics")
      for le in ("0.005", "0.05", "0.5", "5", "+Inf")], "counter_i"),
    ("up", "gauge", [{}], "const"),
    ("build_info", "gauge", [{"version": "1.4.2", "revision": "a1b2c3d"}], "const"),
]
per_instance = sum(len(f[2]) for f in FAMILIES)
ninst = max(1, (nseries + per_instance - 1) // per_instance)
done = 0
with open(out, "w", buffering=1 << 22) as f:
    for fam, typ, extras, kind in FAMILIES:
        name = fam[:-len("_total")] if typ == "counter" else fam
        f.write("# HELP %s %s\n# TYPE %s %s\n" % (name, fam.replace("_", " "), name, typ))
        sample_name = fam + ("_bucket" if typ == "histogram" else "")
        for inst in range(ninst):
            irnd = random.Random(inst)
            jitter = [irnd.randint(0, 5) if irnd.random() < 0.5 else 0 for _ in range(64)]
            for extra in extras:
                if done >= nseries:
                    break
                done += 1
                labels = dict(extra, instance="host-%04d.example.org:9100" % inst,
                              job="node" if fam.startswith("node") else "api")
                prefix = sample_name + "{" + ",".join(
                    '%s="%s"' % (k, labels[k]) for k in sorted(labels)) + "} "
                v = rnd.uniform(0, 1e6) if kind != "const" else 1.0
                rate = rnd.uniform(0.01, 50)
                lines = []
                t0 = START * 1000 + inst % 15000
                for i in range(nsamples):
                    if kind == "counter_f":
                        v += rate * rnd.uniform(0.5, 1.5)
                        val = "%.2f" % v
                    elif kind == "counter_i":
                        v += int(rate * rnd.uniform(0, 2))
                        val = "%d" % v
                    elif kind == "bytes":
                        v = max(0.0, v + rnd.choice((-4096, 0, 0, 4096)) * rnd.randint(0, 64))
                        val = "%d" % v
                    elif kind == "load":
                        v = abs(math.sin(i / 40.0) * 4 + rnd.gauss(0, 0.3))
                        val = "%.2f" % v
                    else:
                        val = "1"
                    t = t0 + i * INTERVAL + jitter[i & 63]
                    lines.append("%s%s %d.%03d\n" % (prefix, val, t // 1000, t % 1000))
                f.write("".join(lines))
    f.write("# EOF\n")
PY
    mv "$file.tmp" "$file"
  fi
fi
[ -s "$file" ] || { echo "no input $file" >&2; exit 1; }
nlines=$(grep -vc '^#' "$file" || true)
echo "input: $file ($(du -h "$file" | cut -f1), $nlines samples)"
echo "load before: $(uptime)"

# strata, then promtool (the input is in the page cache for both).
/usr/bin/time -f '%e %M' -o "$work/strata.time" "$strata" create-blocks-from openmetrics "$file" "$work/strata"
/usr/bin/time -f '%e %M' -o "$work/promtool.time" promtool tsdb create-blocks-from openmetrics "$file" "$work/promtool" >/dev/null
read -r s_wall s_rss < "$work/strata.time"
read -r p_wall p_rss < "$work/promtool.time"

# Blocks: samples, series, index bytes.
block_stats() {  # DIR -> "blocks samples series_sum index_bytes disk_bytes"
  python3 - "$1" <<'PY'
import json, os, sys
d = sys.argv[1]
n = samples = series = idx = 0
for b in sorted(os.listdir(d)):
    m = os.path.join(d, b, "meta.json")
    if not os.path.exists(m):
        continue
    meta = json.load(open(m))
    n += 1
    samples += meta["stats"].get("numSamples", 0)
    series += meta["stats"].get("numSeries", 0)
    idx += os.path.getsize(os.path.join(d, b, "index"))
disk = 0
for root, _, files in os.walk(d):
    disk += sum(os.path.getsize(os.path.join(root, f)) for f in files)
print(n, samples, series, idx, disk)
PY
}
read -r s_blocks s_samples s_series s_index s_disk <<< "$(block_stats "$work/strata")"
read -r p_blocks p_samples p_series p_index p_disk <<< "$(block_stats "$work/promtool")"
[ "$s_samples" = "$p_samples" ] || echo "WARNING: strata wrote $s_samples samples, promtool $p_samples"

v_wall=- v_rss=- v_disk=-
if [ -n "$vm" ]; then
  # VictoriaMetrics wants Prometheus text (ms timestamps): converted untimed, with the
  # truncation Prometheus applies to OpenMetrics seconds.
  python3 - "$file" "$work/vm.prom" <<'PY'
import sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w", buffering=1 << 22) as dst:
    for line in src:
        if line.startswith("#"):
            continue
        head, ts = line.rstrip("\n").rsplit(" ", 1)
        dst.write("%s %d\n" % (head, int(float(ts) * 1000)))
PY
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$vm" -storageDataPath="$work/vm" -retentionPeriod=100y -httpListenAddr="127.0.0.1:$port" \
    -loggerLevel=ERROR > "$work/vm.log" 2>&1 &
  vmpid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  t0=$(date +%s.%N)
  # -T streams the file (--data-binary @FILE would load all of it into curl's memory).
  if curl -sf -X POST -T "$work/vm.prom" "http://127.0.0.1:$port/api/v1/import/prometheus" &&
     curl -sf "http://127.0.0.1:$port/internal/force_flush" >/dev/null; then
    t1=$(date +%s.%N)
    v_wall=$(python3 -c "print('%.2f' % ($t1 - $t0))")
    v_rss=$(awk '/VmHWM/ {print $2}' "/proc/$vmpid/status")
    v_series=$(curl -sf "http://127.0.0.1:$port/api/v1/series/count" || echo '?')
    echo "victoria-metrics: /api/v1/series/count after the import: $v_series"
  else
    echo "victoria-metrics import failed; log: $(tail -3 "$work/vm.log")"
  fi
  kill "$vmpid"; wait "$vmpid" 2>/dev/null || true; vmpid=
  v_disk=$(du -sb "$work/vm" | cut -f1)
  rm -f "$work/vm.prom"
fi

echo "load after: $(uptime)"
python3 - <<PY
def mib(k):
    return "-" if k == "-" else "%.1f MiB" % (int(k) / 1024)
def mb(b):
    return "-" if b == "-" else "%.1f MB" % (int(b) / 1e6)
rows = [("strata-tsdb", "$s_wall", "$s_rss", "$s_disk"),
        ("promtool 2.42", "$p_wall", "$p_rss", "$p_disk"),
        ("victoria-metrics", "$v_wall", "$v_rss", "$v_disk")]
print("%-18s %10s %12s %12s" % ("tool", "wall s", "peak RSS", "on disk"))
for name, wall, rss, disk in rows:
    print("%-18s %10s %12s %12s" % (name, wall, mib(rss), mb(disk)))
print("strata/promtool: wall %.3f (promtool %.2fx slower), peak RSS %.3f, disk %.3f" % (
    float("$s_wall") / float("$p_wall"), float("$p_wall") / float("$s_wall"),
    int("$s_rss") / int("$p_rss"), int("$s_disk") / int("$p_disk")))
print("blocks: strata %s, promtool %s; samples %s / %s" % ("$s_blocks", "$p_blocks", "$s_samples", "$p_samples"))
print("index bytes/series: strata %.1f, promtool %.1f (sum over blocks of index bytes / numSeries)" % (
    int("$s_index") / int("$s_series"), int("$p_index") / int("$p_series")))
PY
