#!/usr/bin/env python3
"""Writes the differential test's data set as an OpenMetrics text file.

Deterministic (fixed seed): the same bytes on every run, so a failing query can be
reproduced. Three hours at a 15 s interval starting at START (Unix seconds), with:
  - http_requests_total: 80 counters (job x instance x method x code) that reset now and then;
  - node_temperature_celsius: 50 gauges, a few of them with gaps and some starting late or
    stopping early (series churn, lookback and staleness-free gaps);
  - request_duration_seconds: a classic histogram (_bucket with le, _sum, _count) for
    10 job/instance pairs;
  - build_info: one-per-job info-style gauges for group_left joins;
  - odd_values: gauges holding NaN, +Inf, -Inf, negative values and tiny/huge magnitudes;
  - escape_test: label values needing JSON escaping (<, >, &, quotes, backslash, unicode).

usage: gen_openmetrics.py OUT_FILE
"""
import math
import random
import sys

START = 1700000000          # 2023-11-14T22:13:20Z
DURATION = 3 * 3600
INTERVAL = 15
SEED = 20231114


def fmt(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def esc(s):
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labelstr(labels):
    if not labels:
        return ""
    return "{" + ",".join('%s="%s"' % (k, esc(v)) for k, v in labels) + "}"


def write(path):
    """Writes the data set to `path`."""
    rnd = random.Random(SEED)
    times = list(range(START, START + DURATION + 1, INTERVAL))
    out = []

    def series(name, labels, values):
        ls = labelstr(labels)
        for t, v in values:
            out.append("%s%s %s %d" % (name, ls, fmt(v), t))

    out.append("# HELP http_requests Requests served.")
    out.append("# TYPE http_requests counter")
    for job in ("api", "web"):
        for inst in range(10):
            for method in ("GET", "POST"):
                for code in ("200", "500"):
                    rate = rnd.uniform(0.5, 20.0) * (0.05 if code == "500" else 1.0)
                    v = float(rnd.randint(0, 1000))
                    vals = []
                    for t in times:
                        if rnd.random() < 0.004:
                            v = 0.0  # counter reset
                        v += rate * INTERVAL * rnd.uniform(0.5, 1.5)
                        vals.append((t, round(v, 3)))
                    series("http_requests_total",
                           [("code", code), ("instance", "i%d" % inst), ("job", job),
                            ("method", method)], vals)

    out.append("# HELP node_temperature_celsius Sensor temperature.")
    out.append("# TYPE node_temperature_celsius gauge")
    for inst in range(10):
        for sensor in range(5):
            base = rnd.uniform(20, 80)
            amp = rnd.uniform(1, 10)
            phase = rnd.uniform(0, 2 * math.pi)
            lo, hi = 0, len(times)
            kind = (inst * 5 + sensor) % 10
            if kind == 3:
                lo = len(times) // 3           # starts late
            elif kind == 7:
                hi = 2 * len(times) // 3       # stops early
            vals = []
            for i in range(lo, hi):
                if kind == 5 and (i // 40) % 3 == 1:
                    continue                   # gaps of 10 minutes
                t = times[i]
                v = base + amp * math.sin(phase + i / 50.0) + rnd.gauss(0, 0.5)
                vals.append((t, round(v, 4)))
            series("node_temperature_celsius",
                   [("instance", "i%d" % inst), ("sensor", "s%d" % sensor)], vals)

    out.append("# HELP request_duration_seconds Request latency.")
    out.append("# TYPE request_duration_seconds histogram")
    bounds = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, math.inf]
    for job in ("api", "web"):
        for inst in range(5):
            counts = [0] * len(bounds)
            total = 0.0
            n = 0
            rows = {b: [] for b in bounds}
            sums, cnts = [], []
            scale = rnd.uniform(0.05, 0.8)
            for t in times:
                if rnd.random() < 0.003:
                    counts = [0] * len(bounds)
                    total = 0.0
                    n = 0
                for _ in range(rnd.randint(0, 30)):
                    d = rnd.expovariate(1.0 / scale)
                    n += 1
                    total += d
                    for k, b in enumerate(bounds):
                        if d <= b:
                            counts[k] += 1
                for k, b in enumerate(bounds):
                    rows[b].append((t, float(counts[k])))
                sums.append((t, round(total, 6)))
                cnts.append((t, float(n)))
            base = [("instance", "i%d" % inst), ("job", job)]
            for b in bounds:
                le = "+Inf" if math.isinf(b) else repr(b)
                series("request_duration_seconds_bucket", base + [("le", le)], rows[b])
            series("request_duration_seconds_sum", base, sums)
            series("request_duration_seconds_count", base, cnts)

    out.append("# TYPE build_info gauge")
    for job, version in (("api", "1.4.2"), ("web", "2.0.0-rc.1")):
        series("build_info", [("job", job), ("version", version)], [(t, 1.0) for t in times])

    out.append("# TYPE odd_values gauge")
    odd = {
        "nan": lambda i: math.nan if i % 7 == 0 else float(i % 13),
        "inf": lambda i: math.inf if i % 11 == 0 else -1.5 * (i % 5),
        "neginf": lambda i: -math.inf if i % 17 == 0 else 2.0 ** (i % 9 - 4),
        "tiny": lambda i: 1e-9 * (1 + i % 4),
        "huge": lambda i: 3e21 * (1 + i % 3),
        "negative": lambda i: -100.0 + (i % 50) * 0.25,
    }
    for kind, f in odd.items():
        series("odd_values", [("kind", kind)], [(t, f(i)) for i, t in enumerate(times)])

    out.append("# TYPE escape_test gauge")
    for k, value in enumerate(['/a<b>&c', 'quote"back\\slash', 'caf\u00e9 \u2603', 'tab\tnl']):
        series("escape_test", [("path", value)], [(t, float(k)) for t in times])

    out.append("# EOF")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    write(sys.argv[1])
