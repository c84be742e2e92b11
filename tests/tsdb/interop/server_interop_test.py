#!/usr/bin/env python3
"""Data directories shared between strata and the real Prometheus 2.42 server.

(a) Prometheus writes, strata reads. /usr/bin/prometheus scrapes itself every second with
    2 s blocks (the hidden --storage.tsdb.{min,max}-block-duration flags), so that it cuts
    blocks within seconds; once it has persisted at least two blocks it is stopped with
    SIGTERM. Then, on that directory (blocks, WAL with Snappy records, chunks_head/):
      - `strata-tsdb dump` (strata's read-only DB: blocks + the WAL replayed into the head)
        prints, sorted, exactly the lines of `promtool tsdb dump` (promtool's read-only DB);
      - the persisted blocks alone dump identically with both tools;
      - strata's read-write DB opens a copy of the directory (lock, WAL repair and replay)
        and closes it (`strata-tsdb compact`), after which promtool still dumps the same
        samples.
(b) strata writes, Prometheus reads. `strata-tsdb create-blocks-from openmetrics` writes
    the PromQL differential test's data set (tests/promql/differential/gen_openmetrics.py:
    3 h, 15 s interval, NaN/Inf, escaped label values) into a data directory; the server
    is started on it (nothing scraped, retention 100y) and
      - an instant matrix query over the whole range returns exactly the input's samples;
      - instant vector queries at three times return, per series, the input's latest
        sample within the 5 m lookback;
      - /api/v1/label/__name__/values lists the input's metric names;
    and strata-query over a copy of the same blocks gives the same answers.

The server always runs on 127.0.0.1 on a free port, in a temporary directory, and is killed
on exit. Exits 77 (skipped) when prometheus, promtool or the strata tools are missing.

usage: server_interop_test.py --strata-tsdb PATH --strata-query PATH [--keep-dir]
"""
import argparse
import json
import math
import os
import re
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "promql", "differential"))
import gen_openmetrics  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class Failure(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, **kw):
    p = subprocess.run(args, capture_output=True, timeout=60, **kw)
    if p.returncode != 0:
        raise Failure("%s exited with %d: %s" % (" ".join(args), p.returncode,
                                                 p.stderr.decode(errors="replace")[-2000:]))
    return p.stdout.decode()


def blocks_in(data_dir):
    """Names of complete block directories (a ULID name and a meta.json)."""
    return sorted(n for n in os.listdir(data_dir)
                  if ULID_RE.match(n) and os.path.exists(os.path.join(data_dir, n, "meta.json")))


class Server:
    """/usr/bin/prometheus on 127.0.0.1:<free port>; stop() always ends it."""

    def __init__(self, tmp, name, data_dir, config, extra_flags=()):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(tmp, name + ".yml")
        with open(cfg, "w") as f:
            f.write(config.replace("PORT", str(self.port)))
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + data_dir,
             "--web.listen-address=127.0.0.1:%d" % self.port] + list(extra_flags),
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise Failure("prometheus exited with %d: %s" % (self.proc.returncode,
                                                                  self.tail_log()))
            try:
                with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, socket.timeout):
                pass
            if time.monotonic() > deadline:
                raise Failure("prometheus not ready after %d s: %s" % (timeout, self.tail_log()))
            time.sleep(0.2)

    def tail_log(self):
        self.log.flush()
        with open(self.log_path) as f:
            return "".join(f.readlines()[-15:])

    def get(self, path, params):
        url = self.base + path + "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
        body = json.loads(raw)
        if body.get("status") != "success":
            raise Failure("%s %s: %s" % (path, params, body))
        return body["data"]

    def stop(self):
        """SIGTERM, then SIGKILL after 20 s. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def sorted_lines(text):
    return sorted(text.splitlines())


def compare_dumps(what, want, got):
    """want/got: sorted dump lines (promtool's, strata's)."""
    if want == got:
        return
    wset, gset = set(want), set(got)
    only_w = [l for l in want if l not in gset][:5]
    only_g = [l for l in got if l not in wset][:5]
    raise Failure("%s: promtool dumped %d lines, strata %d; only promtool: %s; only strata: %s"
                  % (what, len(want), len(got), only_w, only_g))


def part_a(tmp, strata_tsdb):
    """A directory written by the server, read by strata."""
    data = os.path.join(tmp, "a-data")
    config = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
              "scrape_configs:\n  - job_name: self\n    static_configs:\n"
              "      - targets: ['127.0.0.1:PORT']\n")
    server = Server(tmp, "a", data, config, ["--storage.tsdb.min-block-duration=2s",
                                             "--storage.tsdb.max-block-duration=2s"])
    try:
        server.wait_ready()
        # Two blocks: the first starts at the first sample (unaligned), later ones are
        # aligned ranges cut after a head truncation and a WAL checkpoint.
        deadline = time.monotonic() + 40
        while len(blocks_in(data)) < 2:
            if server.proc.poll() is not None:
                raise Failure("prometheus exited: " + server.tail_log())
            if time.monotonic() > deadline:
                raise Failure("no 2 blocks after 40 s: %s\n%s" % (os.listdir(data),
                                                                  server.tail_log()))
            time.sleep(0.5)
        time.sleep(1.5)  # a few more scrapes into the head and the WAL
    finally:
        rc = server.stop()
    if rc != 0:
        raise Failure("prometheus exited with %d after SIGTERM: %s" % (rc, server.tail_log()))
    blocks = blocks_in(data)
    wal = sorted(os.listdir(os.path.join(data, "wal")))
    print("(a) prometheus wrote %d blocks, wal/: %s" % (len(blocks), " ".join(wal)))

    # Whole directory: blocks + head replayed from the WAL.
    want = sorted_lines(run([PROMTOOL, "tsdb", "dump", data]))
    got = sorted_lines(run([strata_tsdb, "dump", data]))
    if not any(l.startswith('{__name__="up", instance="127.0.0.1:') for l in want):
        raise Failure("promtool dump has no self-scraped `up` samples")
    compare_dumps("(a) whole directory", want, got)
    print("(a) whole directory: %d samples dump identically" % len(want))

    # Persisted blocks alone.
    only = os.path.join(tmp, "a-blocks")
    os.makedirs(os.path.join(only, "wal"))
    for b in blocks:
        shutil.copytree(os.path.join(data, b), os.path.join(only, b))
    bwant = sorted_lines(run([PROMTOOL, "tsdb", "dump", only]))
    bgot = sorted_lines(run([strata_tsdb, "dump", only]))
    if not bwant:
        raise Failure("promtool dumped no samples from the persisted blocks")
    compare_dumps("(a) persisted blocks", bwant, bgot)
    print("(a) %d persisted blocks: %d samples dump identically" % (len(blocks), len(bwant)))

    # strata's read-write DB opens and closes the directory (and may merge blocks).
    rw = os.path.join(tmp, "a-rw")
    shutil.copytree(data, rw)
    run([strata_tsdb, "compact", rw])
    after = sorted_lines(run([PROMTOOL, "tsdb", "dump", rw]))
    compare_dumps("(a) after strata's read-write open + compact", want, after)
    print("(a) read-write open + compact by strata keeps all %d samples" % len(after))


LINE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+) (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_openmetrics(path):
    """{labels tuple: [(t_ms, value)]} from an OpenMetrics file with timestamps."""
    series = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            m = LINE_RE.match(line)
            if not m:
                raise Failure("unparsable input line %r" % line)
            labels = {"__name__": m.group(1)}
            if m.group(2):
                for lm in LABEL_RE.finditer(m.group(2)):
                    labels[lm.group(1)] = unescape(lm.group(2))
            t = int(round(float(m.group(4)) * 1000))
            series.setdefault(tuple(sorted(labels.items())), []).append((t, float(m.group(3))))
    return series


def same_value(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_matrix(what, result, want):
    got = {}
    for s in result:
        got[tuple(sorted(s["metric"].items()))] = [(int(round(p[0] * 1000)), float(p[1]))
                                                    for p in s["values"]]
    if set(got) != set(want):
        raise Failure("%s: %d series, want %d; e.g. only got %s, only want %s" % (
            what, len(got), len(want), sorted(set(got) - set(want))[:2],
            sorted(set(want) - set(got))[:2]))
    n = 0
    for k, w in want.items():
        g = got[k]
        if len(g) != len(w) or not all(a[0] == b[0] and same_value(a[1], b[1])
                                       for a, b in zip(g, w)):
            raise Failure("%s: series %s: %d samples, want %d; first %s vs %s" % (
                what, dict(k), len(g), len(w), g[:3], w[:3]))
        n += len(w)
    return n


def check_vector(what, result, want):
    got = {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in result}
    if set(got) != set(want):
        raise Failure("%s: %d series, want %d" % (what, len(got), len(want)))
    for k, v in want.items():
        if not same_value(got[k], v):
            raise Failure("%s: series %s: %s, want %s" % (what, dict(k), got[k], v))


def instant_want(series, t_ms, lookback_ms=300000):
    """Per series, its latest sample in [t - 5m, t], as 2.42's vector selector picks it (the
    evaluation times used keep every sample off the window's edges)."""
    out = {}
    for k, samples in series.items():
        last = [v for st, v in samples if t_ms - lookback_ms <= st <= t_ms]
        if last:
            out[k] = last[-1]
    return out


def strata_query(tool, data_dir, query, t):
    p = subprocess.run([tool, "--data", data_dir, "--compat=2", "--time", t, "--", query],
                       capture_output=True, timeout=60)
    body = json.loads(p.stdout)
    if p.returncode != 0 or body.get("status") != "success":
        raise Failure("strata-query %s at %s: exit %d, %s %s" % (
            query, t, p.returncode, p.stdout[:300], p.stderr[:300]))
    return body["data"]


def part_b(tmp, strata_tsdb, strata_query_tool):
    """A directory written by strata, served by the real server."""
    om = os.path.join(tmp, "b.om")
    gen_openmetrics.write(om)
    series = parse_openmetrics(om)
    nsamples = sum(len(v) for v in series.values())
    data = os.path.join(tmp, "b-data")
    run([strata_tsdb, "create-blocks-from", "openmetrics", om, data])
    blocks = blocks_in(data)
    if len(blocks) < 2:
        raise Failure("strata wrote %d blocks, expected 2h windows over 3h" % len(blocks))
    copy = os.path.join(tmp, "b-strata")  # the server may compact its directory
    shutil.copytree(data, copy)
    server = Server(tmp, "b", data, "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
                    ["--storage.tsdb.retention.time=100y"])
    try:
        server.wait_ready()
        start, end = gen_openmetrics.START, gen_openmetrics.START + gen_openmetrics.DURATION
        # Everything, as raw samples: a range wider than the data, ending after it.
        t = "%.3f" % (end + 1.5)
        q = '{__name__=~".+"}[4h]'
        got = server.get("/api/v1/query", {"query": q, "time": t})
        if got["resultType"] != "matrix":
            raise Failure("%s: result type %s" % (q, got["resultType"]))
        n = check_matrix("(b) prometheus " + q, got["result"], series)
        check_matrix("(b) strata-query " + q,
                     strata_query(strata_query_tool, copy, q, t)["result"], series)
        print("(b) %d blocks by strata: prometheus returns all %d samples of %d series"
              % (len(blocks), n, len(series)))
        for t in ("%.3f" % (start + 3607.25), "%.3f" % (start + 7200.5),
                  "%.3f" % (end + 170.125)):
            t_ms = int(round(float(t) * 1000))
            want = instant_want(series, t_ms)
            q = '{__name__=~".+"}'
            got = server.get("/api/v1/query", {"query": q, "time": t})
            check_vector("(b) prometheus %s @%s" % (q, t), got["result"], want)
            check_vector("(b) strata-query %s @%s" % (q, t),
                         strata_query(strata_query_tool, copy, q, t)["result"], want)
            print("(b) instant query at %s: %d series agree" % (t, len(want)))
        names = server.get("/api/v1/label/__name__/values", {})
        want_names = sorted({dict(k)["__name__"] for k in series})
        if names != want_names:
            raise Failure("(b) __name__ values %s, want %s" % (names, want_names))
    finally:
        rc = server.stop()
    if rc != 0:
        raise Failure("prometheus exited with %d: %s" % (rc, server.tail_log()))
    if nsamples != n:
        raise Failure("(b) input has %d samples, the matrix %d" % (nsamples, n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata-tsdb", required=True)
    ap.add_argument("--strata-query", required=True)
    ap.add_argument("--keep-dir", action="store_true")
    args = ap.parse_args()
    for tool in (PROMETHEUS, PROMTOOL, args.strata_tsdb, args.strata_query):
        if not os.access(tool, os.X_OK):
            print("SKIP: %s not installed (needs the Prometheus 2.42 server and promtool)"
                  % tool)
            return 77

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tmp = tempfile.mkdtemp(prefix="strata-server-interop-")
    ok = False
    try:
        part_a(tmp, os.path.abspath(args.strata_tsdb))
        part_b(tmp, os.path.abspath(args.strata_tsdb), os.path.abspath(args.strata_query))
        ok = True
        print("PASS")
        return 0
    except Failure as e:
        print("FAIL: %s" % e)
        return 1
    finally:
        if args.keep_dir or not ok:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
