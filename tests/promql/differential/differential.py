#!/usr/bin/env python3
"""Differential test: strata's PromQL engine against the real Prometheus 2.42 server.

Generates a fixed-seed OpenMetrics data set (gen_openmetrics.py), backfills it into blocks
with `promtool tsdb create-blocks-from openmetrics`, starts /usr/bin/prometheus on
127.0.0.1 over (a copy of) those blocks, and evaluates every query of queries.txt
  - as instant queries at each of INSTANT_TIMES, and
  - as a range query over RANGE (start, end, step),
once through Prometheus's HTTP API (/api/v1/query, /api/v1/query_range) and once through
`strata-query --compat=2` on the same blocks. Two answers agree when they have the same
status (and errorType), result type, label sets, timestamps and values (within 1e-9
relative; NaN equals NaN). Vector order is compared only where Prometheus defines it
(sort/sort_desc at the top: the sequence of values must match, since ties may come in any
order); matrices are compared in order (Prometheus sorts them by labels).

Prints every mismatch (query, evaluation, Prometheus's answer, strata's) and ends with
"N passed, M failed" counting queries (a query passes when all its evaluations agree).
Exits 1 on any failure, 77 (skip) when prometheus or promtool is missing. The server is
always killed on exit.

With --known-failing FILE, failures of the queries listed there are printed but tolerated,
and a listed query that passes fails the run (the meson test uses
known_failing.txt, which records why each query fails).

usage: differential.py --strata-query PATH [--queries FILE] [--known-failing FILE]
                       [--keep-dir] [--only SUBSTR] [--jobs N]
"""
import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_openmetrics  # noqa: E402  (START, DURATION of the data set)

START = gen_openmetrics.START
END = START + gen_openmetrics.DURATION
# Mid-data at an odd millisecond, at a block boundary region, and past the end of the data
# (lookback runs out for some series).
INSTANT_TIMES = ["%.3f" % (START + 3607.25), str(START + 6405), str(END + 170)]
RANGE = (str(START + 600), str(END + 300), "127s")
REL_TOL = 1e-9


def find_tool(name):
    # STRATA_PROMETHEUS / STRATA_PROMTOOL override the search (e.g. another version).
    override = os.environ.get("STRATA_" + name.upper())
    if override is not None:
        return override if os.access(override, os.X_OK) else None
    for cand in ("/usr/bin/" + name, shutil.which(name)):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_query(base, query, params):
    path = "/api/v1/query_range" if "step" in params else "/api/v1/query"
    data = urllib.parse.urlencode(dict(params, query=query)).encode()
    try:
        with urllib.request.urlopen(base + path, data=data, timeout=60) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:  # 400/422/503 carry the error body
        raw = e.read()
    return raw.decode().strip(), json.loads(raw)


def strata_query(tool, data_dir, query, params):
    args = [tool, "--data", data_dir, "--compat=2"]
    if "step" in params:
        args += ["--start", params["start"], "--end", params["end"], "--step", params["step"]]
    else:
        args += ["--time", params["time"]]
    p = subprocess.run(args + ["--", query], capture_output=True, timeout=120)
    raw = p.stdout.decode(errors="replace").strip()
    try:
        body = json.loads(p.stdout)
    except ValueError:
        return raw, {"status": "crash", "error": "exit %d, stdout %r, stderr %r" %
                     (p.returncode, p.stdout[:300], p.stderr[:300])}
    if (body.get("status") == "success") != (p.returncode == 0):
        return raw, {"status": "crash",
                     "error": "exit status %d with body %s" % (p.returncode, body)}
    return raw, body


def same_value(a, b):
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if x == y:
        return True
    return abs(x - y) <= REL_TOL * max(abs(x), abs(y))


def same_point(p, q):
    return float(p[0]) == float(q[0]) and same_value(p[1], q[1])


def key(metric):
    return tuple(sorted(metric.items()))


def fmt_labels(metric):
    name = metric.get("__name__", "")
    rest = ",".join('%s="%s"' % (k, v) for k, v in sorted(metric.items()) if k != "__name__")
    return name + "{" + rest + "}"


def ordered(query):
    q = query.strip()
    return q.startswith("sort(") or q.startswith("sort_desc(")


def compare(query, prom, strata):
    """Returns None when the answers agree, else a one-line reason."""
    if prom.get("status") != strata.get("status"):
        return "status %s (%s) vs %s (%s)" % (prom.get("status"), prom.get("error", ""),
                                              strata.get("status"), strata.get("error", ""))
    if prom["status"] != "success":
        if prom.get("errorType") != strata.get("errorType"):
            return "errorType %s (%s) vs %s (%s)" % (prom.get("errorType"), prom.get("error"),
                                                     strata.get("errorType"), strata.get("error"))
        return None
    pd, sd = prom["data"], strata["data"]
    if pd["resultType"] != sd["resultType"]:
        return "resultType %s vs %s" % (pd["resultType"], sd["resultType"])
    rt = pd["resultType"]
    pr, sr = pd["result"], sd["result"]
    if rt == "scalar":
        return None if same_point(pr, sr) else "scalar %s vs %s" % (pr, sr)
    if rt == "string":
        return None if pr == sr else "string %s vs %s" % (pr, sr)
    field = "value" if rt == "vector" else "values"
    pm = {key(s["metric"]): s for s in pr}
    sm = {key(s["metric"]): s for s in sr}
    if len(sm) != len(sr):
        return "strata returned duplicate label sets"
    only_p = [fmt_labels(pm[k]["metric"]) for k in pm if k not in sm]
    only_s = [fmt_labels(sm[k]["metric"]) for k in sm if k not in pm]
    if only_p or only_s:
        return "series only in prometheus (%d): %s; only in strata (%d): %s" % (
            len(only_p), " ".join(only_p[:3]), len(only_s), " ".join(only_s[:3]))
    for k, ps in pm.items():
        ss = sm[k]
        if rt == "vector":
            if not same_point(ps["value"], ss["value"]):
                return "%s: %s vs %s" % (fmt_labels(ps["metric"]), ps["value"], ss["value"])
        else:
            pv, sv = ps[field], ss[field]
            if len(pv) != len(sv) or not all(same_point(a, b) for a, b in zip(pv, sv)):
                for i, (a, b) in enumerate(zip(pv, sv)):
                    if not same_point(a, b):
                        return "%s: point %d: %s vs %s (%d vs %d points)" % (
                            fmt_labels(ps["metric"]), i, a, b, len(pv), len(sv))
                return "%s: %d vs %d points (first extra %s)" % (
                    fmt_labels(ps["metric"]), len(pv), len(sv),
                    (pv[len(sv)] if len(pv) > len(sv) else sv[len(pv)]))
    if rt == "matrix":
        if [key(s["metric"]) for s in pr] != [key(s["metric"]) for s in sr]:
            return "matrix series order differs"
    elif ordered(query):
        pvals = [s["value"][1] for s in pr]
        svals = [s["value"][1] for s in sr]
        if not all(same_value(a, b) for a, b in zip(pvals, svals)):
            return "sort order differs: %s vs %s" % (pvals[:6], svals[:6])
    return None


# API parameter forms (query, params): times as RFC 3339 and signed/fractional seconds,
# steps as durations and float seconds, and the parameter errors. Checked like the queries.
PARAM_CASES = [
    ("time()", {"time": "2023-11-14T23:13:20.5+01:00"}),
    ("time()", {"time": "2023-11-14T22:13:20Z"}),
    ("time()", {"time": "+1700000000.0006"}),
    ("time()", {"time": "1700000000.0004"}),
    ("time()", {"time": "1.7e9"}),
    ("time()", {"time": "yesterday"}),
    ("node_temperature_celsius{sensor=\"s0\"}", {"time": "2023-11-14T23:30:00.123Z"}),
    ("time()", {"start": "1700000000", "end": "1700003600", "step": "1m"}),
    ("time()", {"start": "1700000000", "end": "1700003600", "step": "1h"}),
    ("time()", {"start": "1700000000", "end": "1700003600", "step": "90.5"}),
    ("time()", {"start": "2023-11-14T22:13:20Z", "end": "2023-11-14T23:13:20Z", "step": "5m"}),
    ("time()", {"start": "1700000000", "end": "1700003600", "step": "1m30s"}),
    ("time()", {"start": "1700000000", "end": "1700000000", "step": "15"}),
    ("time()", {"start": "1700000000", "end": "1699999999", "step": "15"}),
    ("time()", {"start": "1700000000", "end": "1700003600", "step": "0"}),
    ("time()", {"start": "1700000000", "end": "1700003600", "step": "-1"}),
    ("time()", {"start": "1700000000", "end": "1700003600", "step": "x"}),
    ("time()", {"start": "x", "end": "1700003600", "step": "1"}),
    ("time()", {"start": "1700000000", "end": "1700900000", "step": "1"}),
]


def read_queries(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata-query", required=True)
    ap.add_argument("--queries", default=os.path.join(HERE, "queries.txt"))
    ap.add_argument("--keep-dir", action="store_true", help="keep the temp dir for debugging")
    ap.add_argument("--only", help="run only queries containing this substring")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--known-failing",
                    help="file of queries known to fail (same syntax as --queries): their "
                    "failures are reported but do not fail the run, and one that passes "
                    "fails it so the list is kept current")
    args = ap.parse_args()

    prometheus, promtool = find_tool("prometheus"), find_tool("promtool")
    if not prometheus or not promtool:
        print("SKIP: prometheus or promtool not installed (need the 2.42 server and promtool)")
        return 77
    version = subprocess.run([prometheus, "--version"], capture_output=True, text=True)
    print((version.stdout or version.stderr).splitlines()[0])

    queries = read_queries(args.queries)
    known = set(read_queries(args.known_failing)) if args.known_failing else set()
    stale = sorted(k for k in known if k not in queries)
    if stale:
        print("known-failing queries missing from %s: %s" % (args.queries, stale))
        return 1
    if args.only:
        queries = [q for q in queries if args.only in q]

    tmp = tempfile.mkdtemp(prefix="strata-differential-")
    server = None

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        om = os.path.join(tmp, "data.om")
        gen_openmetrics.write(om)
        blocks = os.path.join(tmp, "blocks")
        subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", om, blocks],
                       check=True, stdout=subprocess.DEVNULL)
        # strata reads its own copy: the server may compact or delete blocks in its dir.
        strata_dir = os.path.join(tmp, "strata")
        shutil.copytree(blocks, strata_dir)
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
        port = free_port()
        base = "http://127.0.0.1:%d" % port
        log = open(os.path.join(tmp, "prometheus.log"), "w")
        server = subprocess.Popen(
            [prometheus, "--config.file=" + config, "--storage.tsdb.path=" + blocks,
             "--storage.tsdb.retention.time=100y", "--web.listen-address=127.0.0.1:%d" % port],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                print("prometheus exited with %d; log in %s" % (server.returncode, tmp))
                args.keep_dir = True
                return 1
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            if time.monotonic() > deadline:
                print("prometheus not ready after 60 s; log in %s" % tmp)
                args.keep_dir = True
                return 1
            time.sleep(0.2)

        evals = [("instant@" + t, {"time": t}) for t in INSTANT_TIMES]
        evals.append(("range %s..%s/%s" % RANGE,
                      {"start": RANGE[0], "end": RANGE[1], "step": RANGE[2]}))

        def run(q):
            fails = []
            nonempty = 0
            for name, params in evals:
                prom_raw, prom = http_query(base, q, params)
                if prom.get("status") != "success" or prom["data"]["result"] not in ([], None):
                    nonempty += 1
                got_raw, got = strata_query(args.strata_query, strata_dir, q, params)
                why = compare(q, prom, got)
                # Identical decoded answers must be identical bytes too: this catches
                # formatting differences (timestamps, float digits, string escaping) that
                # decoding hides. Answers that differ only in unordered vector order or
                # within the tolerance are not byte-compared.
                if not why and prom == got and prom_raw != got_raw:
                    why = "same JSON, different bytes"
                    prom, got = prom_raw, got_raw
                if why:
                    fails.append((name, why, prom, got))
            return q, fails, nonempty

        param_fail = 0
        for q, params in ([] if args.only else PARAM_CASES):
            prom_raw, prom = http_query(base, q, params)
            got_raw, got = strata_query(args.strata_query, strata_dir, q, params)
            why = compare(q, prom, got)
            if not why and prom == got and prom_raw != got_raw:
                why = "same JSON, different bytes"
            if why:
                param_fail += 1
                print("FAIL parameters %s %s: %s" % (q, params, why))
                print("    prometheus %s" % prom_raw[:400])
                print("    strata:     %s" % got_raw[:400])
        if not args.only:
            print("%d of %d API parameter cases differ" % (param_fail, len(PARAM_CASES)))

        passed = failed = 0
        eval_fail = 0
        nonempty = 0
        unexpected_fail, unexpected_pass = [], []
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for q, fails, n in pool.map(run, queries):
                nonempty += n
                if not fails:
                    passed += 1
                    if q in known:
                        unexpected_pass.append(q)
                    continue
                failed += 1
                eval_fail += len(fails)
                if q in known:
                    print("FAIL (known) %s" % q)
                else:
                    unexpected_fail.append(q)
                    print("FAIL %s" % q)
                for name, why, prom, got in fails:
                    print("  %s: %s" % (name, why))
                    for who, body in (("prometheus", prom), ("strata:    ", got)):
                        text = body if isinstance(body, str) else json.dumps(body)
                        print("    %s %s" % (who, text[:400]))
        print("%d evaluations per query, %d of %d evaluations differ; %d had a non-empty "
              "answer or an error from Prometheus" %
              (len(evals), eval_fail, len(evals) * len(queries), nonempty))
        if known:
            print("%d failures not in the known-failing list; %d known-failing queries "
                  "now pass (remove them from the list)" %
                  (len(unexpected_fail), len(unexpected_pass)))
            for q in unexpected_pass:
                print("  now passes: %s" % q)
        print("%d passed, %d failed" % (passed, failed))
        if param_fail:
            return 1
        if known:
            return 1 if unexpected_fail or unexpected_pass else 0
        return 1 if failed else 0
    finally:
        if server is not None:
            server.kill()
            server.wait()
        if args.keep_dir:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
