#!/bin/sh
# Times PromQL range queries in Prometheus 2.42 and in strata on the same blocks: the data
# set of the differential test (tests/promql/differential/gen_openmetrics.py, 232 series,
# 3 h at 15 s) backfilled with promtool, served by /usr/bin/prometheus on 127.0.0.1 and
# read by strata-query --compat=2 --stats.
#
#   bench/compare/promql-bench.sh [BUILDDIR] [RUNS]
#
# BUILDDIR defaults to ./build-release (configure with -Dbuildtype=release); RUNS (default
# 7) runs per query and engine. Compared: the engine's own time, the median over the runs
# (Prometheus: stats=all execTotalTime, i.e. queue + preparation + evaluation + sort;
# strata: parse + prepare + eval from Result::stats), and the median wall time of one whole
# request (Prometheus: HTTP round trip to a warm server; strata: a process that opens the
# blocks, so it includes process start and block open). Single-threaded on both sides.
#
# If /usr/bin/victoria-metrics is installed, the same samples are imported into it
# (/api/v1/import/prometheus, then /internal/force_flush) and each query is sent to its
# /api/v1/query_range with nocache=1 (no rollup-result cache), GOMAXPROCS=1: VictoriaMetrics
# reports no engine time, so its column is the HTTP round trip, comparable with
# Prometheus's wall column. The last lines give the geometric means of the ratios.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${1:-$here/build-release}
runs=${2:-7}
strata=$builddir/examples/strata-query/strata-query
[ -x "$strata" ] || { echo "$strata not built (ninja -C $builddir examples/strata-query/strata-query)" >&2; exit 1; }
command -v promtool >/dev/null || { echo "promtool not installed" >&2; exit 1; }
command -v prometheus >/dev/null || { echo "prometheus not installed" >&2; exit 1; }
exec python3 - "$here" "$strata" "$runs" <<'PY'
import json, math, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request
here, strata, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, os.path.join(here, "tests", "promql", "differential"))
import differential, gen_openmetrics

QUERIES = [
    "sum by (job) (rate(http_requests_total[5m]))",
    "rate(http_requests_total[5m])",
    "histogram_quantile(0.9, sum by (le, job) (rate(request_duration_seconds_bucket[5m])))",
    "avg_over_time(node_temperature_celsius[30m])",
    "quantile_over_time(0.9, node_temperature_celsius[1h])",
    "topk(5, node_temperature_celsius)",
    "http_requests_total * on(job) group_left(version) build_info",
    "max_over_time(rate(http_requests_total[5m])[30m:1m])",
    "count_values(\"v\", round(node_temperature_celsius))",
    "label_replace(node_temperature_celsius, \"x\", \"$1\", \"instance\", \"i(.*)\")",
]
START, END, STEP = gen_openmetrics.START, gen_openmetrics.START + gen_openmetrics.DURATION, "15"

def wait_ready(proc, url, name):
    """Polls url until it answers 200; exits if proc dies or 60 s pass."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit("%s did not become ready" % name)
        time.sleep(0.2)

tmp = tempfile.mkdtemp(prefix="strata-promql-bench-")
server = None
vm = None
try:
    om = os.path.join(tmp, "data.om")
    gen_openmetrics.write(om)
    blocks = os.path.join(tmp, "blocks")
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, blocks],
                   check=True, stdout=subprocess.DEVNULL)
    sdir = os.path.join(tmp, "strata")
    shutil.copytree(blocks, sdir)
    cfg = os.path.join(tmp, "prometheus.yml")
    open(cfg, "w").write("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = differential.free_port()
    base = "http://127.0.0.1:%d" % port
    # GOMAXPROCS=1: one core each, as strata evaluates a query on one thread.
    server = subprocess.Popen(
        ["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + blocks,
         "--storage.tsdb.retention.time=100y", "--web.listen-address=127.0.0.1:%d" % port],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, GOMAXPROCS="1"))
    wait_ready(server, base + "/-/ready", "prometheus")
    vm_base = None
    vm_bin = shutil.which("victoria-metrics")
    if vm_bin:
        # Prometheus text with ms timestamps, truncated as Prometheus reads OpenMetrics seconds.
        prom_txt = os.path.join(tmp, "vm.prom")
        with open(om) as src, open(prom_txt, "w") as dst:
            for line in src:
                if line.startswith("#"):
                    continue
                head, ts = line.rstrip("\n").rsplit(" ", 1)
                dst.write("%s %d\n" % (head, int(float(ts) * 1000)))
        vport = differential.free_port()
        vm_base = "http://127.0.0.1:%d" % vport
        vm = subprocess.Popen(
            [vm_bin, "-storageDataPath=" + os.path.join(tmp, "vm"), "-retentionPeriod=100y",
             "-httpListenAddr=127.0.0.1:%d" % vport, "-loggerLevel=ERROR"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, GOMAXPROCS="1"))
        wait_ready(vm, vm_base + "/health", "victoria-metrics")
        with open(prom_txt, "rb") as f:
            urllib.request.urlopen(urllib.request.Request(
                vm_base + "/api/v1/import/prometheus", data=f.read(), method="POST")).read()
        urllib.request.urlopen(vm_base + "/internal/force_flush").read()
    print("%d runs per query; range %d..%d step %ss (%d steps); times in ms (median)"
          % (runs, START, END, STEP, (END - START) // int(STEP) + 1))
    print("%-44s %9s %9s %6s | %9s %9s %9s" % ("query", "prom eng", "strata", "ratio",
                                                 "prom wall", "vm wall", "strata wall"))
    ratios, vm_ratios, vm_strata = [], [], []
    for q in QUERIES:
        pe, pw, se, sw, vw = [], [], [], [], []
        for _ in range(runs):
            if vm_base:
                data = urllib.parse.urlencode({"query": q, "start": START, "end": END,
                                               "step": STEP, "nocache": 1}).encode()
                t0 = time.perf_counter()
                body = json.loads(urllib.request.urlopen(vm_base + "/api/v1/query_range", data=data).read())
                vw.append(time.perf_counter() - t0)
                if body.get("status") != "success":
                    sys.exit("victoria-metrics failed on %s: %s" % (q, body))
            data = urllib.parse.urlencode({"query": q, "start": START, "end": END,
                                           "step": STEP, "stats": "all"}).encode()
            t0 = time.perf_counter()
            body = json.loads(urllib.request.urlopen(base + "/api/v1/query_range", data=data).read())
            pw.append(time.perf_counter() - t0)
            pe.append(body["data"]["stats"]["timings"]["execTotalTime"])
            t0 = time.perf_counter()
            p = subprocess.run([strata, "--data", sdir, "--compat=2", "--stats", "--start",
                                str(START), "--end", str(END), "--step", STEP, "--", q],
                               capture_output=True, check=True)
            sw.append(time.perf_counter() - t0)
            st = json.loads(p.stderr.decode().strip().splitlines()[-1])
            se.append(st["parseTime"] + st["prepareTime"] + st["evalTime"])
        m = lambda xs: statistics.median(xs) * 1000
        ratios.append(m(pe) / m(se))
        if vw:
            vm_ratios.append(m(pw) / m(vw))
            vm_strata.append(m(vw) / m(sw))
        print("%-44s %9.2f %9.2f %5.2fx | %9.2f %9s %9.2f" % (
            q[:44], m(pe), m(se), m(pe) / m(se), m(pw), "%.2f" % m(vw) if vw else "-", m(sw)))
    gm = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs))
    print("ratio = Prometheus engine time / strata engine time (>1: strata faster)")
    print("geometric mean of ratio: %.2fx (strata latency = %.2f of Prometheus's)"
          % (gm(ratios), 1 / gm(ratios)))
    if vm_ratios:
        print("geometric mean of Prometheus wall / VictoriaMetrics wall: %.2fx" % gm(vm_ratios))
        print("geometric mean of VictoriaMetrics wall / strata wall: %.2fx (strata's wall "
              "includes process start and block open)" % gm(vm_strata))
finally:
    for proc in (server, vm):
        if proc is not None:
            proc.kill()
            proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)
PY
