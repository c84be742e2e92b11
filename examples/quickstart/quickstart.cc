// strata quickstart: the demo that README command (a) runs.
//
// Walks a synthetic fleet through the library, one stage per strata module:
//   1. chunkenc  encode every series into Prometheus-compatible XOR chunks, decode, verify
//   2. tsdb      ingest the fleet through the head from two threads, logging to a WAL in the
//                local data directory, then query a series back
//   3. recovery  open a fresh head from that WAL alone and check nothing acknowledged was lost
//   4. promql    answer the questions an operator asks of such a fleet
//   5. db         a DB (blocks + WAL-backed head) for part of the fleet: persist blocks and
//                compact them, delete one series (tombstones), query, clean tombstones,
//                reopen and check the deletion held
// Everything lives under --data (default ./quickstart-data); each run starts it afresh.
#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "strata/base/file_system.h"
#include "strata/chunkenc/xor.h"
#include "strata/model/labels.h"
#include "strata/model/matcher.h"
#include "strata/model/sample.h"
#include "strata/promql/engine.h"
#include "strata/tsdb/db.h"
#include "strata/tsdb/head.h"
#include "strata/tsdb/head_wal.h"
#include "strata/tsdb/wal/reader.h"
#include "strata/tsdb/wal/writer.h"

namespace {

using strata::model::Labels;
using strata::model::Sample;

constexpr int64_t kScrapeMs = 15000;
constexpr std::string_view kModes[] = {"user", "system", "iowait", "idle"};
constexpr double kModeShare[] = {0.18, 0.07, 0.02, 0.73};
constexpr std::string_view kLe[] = {"0.005", "0.01", "0.025", "0.05", "0.1",
                                    "0.25",  "0.5",  "1",     "2.5",  "+Inf"};
constexpr double kLeBound[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, INFINITY};

struct Series {
  Labels lset;
  std::vector<Sample> samples;
};

// The series of one host, all sampled at the same scrape times.
struct Host {
  std::vector<Series> series;
};

// A host's metrics over `scrapes` scrapes: CPU seconds per cpu and mode (counters), memory
// and load gauges, request counters and a latency histogram whose buckets are cumulative, as
// a node exporter and an instrumented HTTP server expose them.
Host MakeHost(int h, int scrapes, int64_t start, std::mt19937_64& rng) {
  Host host;
  const std::string instance = "host-" + std::to_string(h) + ":9100";
  const std::string zone = "zone-" + std::to_string(h % 3);
  std::normal_distribution<double> noise(0, 1);
  std::uniform_int_distribution<int> jitter(-2, 2);  // ms; scrapes are nearly periodic
  std::vector<int64_t> ts(scrapes);
  for (int i = 0; i < scrapes; ++i) ts[i] = start + int64_t{i} * kScrapeMs + jitter(rng);

  // add() hands out references into host.series: reserve so that they stay valid.
  host.series.reserve(8 + 2 + 1 + std::size(kLe));
  auto add = [&](Labels l) -> std::vector<Sample>& {
    assert(host.series.size() < host.series.capacity());
    host.series.push_back({std::move(l), {}});
    host.series.back().samples.reserve(scrapes);
    return host.series.back().samples;
  };
  const double busy = 0.5 + (h % 7) / 7.0;  // hosts differ in load
  for (int cpu = 0; cpu < 2; ++cpu) {
    for (int m = 0; m < 4; ++m) {
      auto& s = add(Labels{{"__name__", "node_cpu_seconds_total"}, {"instance", instance},
                           {"job", "node"}, {"zone", zone}, {"cpu", std::to_string(cpu)},
                           {"mode", kModes[m]}});
      double v = 1e5 * (1 + h % 5);
      const double share = m == 3 ? 1 - (1 - kModeShare[3]) * busy : kModeShare[m] * busy;
      for (int i = 0; i < scrapes; ++i) {
        v += std::max(0.0, 15 * share * (1 + 0.1 * noise(rng)));
        s.push_back({ts[i], std::round(v * 100) / 100});  // node exporter reports 10 ms ticks
      }
    }
  }
  auto& mem = add(Labels{{"__name__", "node_memory_MemAvailable_bytes"}, {"instance", instance},
                         {"job", "node"}, {"zone", zone}});
  auto& load = add(Labels{{"__name__", "node_load1"}, {"instance", instance}, {"job", "node"},
                          {"zone", zone}});
  double memv = 8e9 + 1e9 * (h % 4), loadv = 2 * busy;
  for (int i = 0; i < scrapes; ++i) {
    memv += std::round(4096 * 64 * noise(rng));
    loadv = std::max(0.0, loadv + 0.05 * noise(rng));
    mem.push_back({ts[i], memv});
    load.push_back({ts[i], std::round(loadv * 100) / 100});
  }
  // Requests: each host serves a different rate; latencies are log-normal around a median
  // that also differs by host.
  const double rps = 20 + 15 * ((h * 7) % 23);
  const double median = 0.02 * (1 + h % 5);
  auto& reqs = add(Labels{{"__name__", "http_requests_total"}, {"instance", instance},
                          {"job", "api"}, {"zone", zone}, {"code", "200"}});
  std::vector<std::vector<Sample>*> buckets;
  for (std::string_view le : kLe) {
    buckets.push_back(&add(Labels{{"__name__", "http_request_duration_seconds_bucket"},
                                  {"instance", instance}, {"job", "api"}, {"zone", zone},
                                  {"le", le}}));
  }
  std::poisson_distribution<int> arrivals(rps * 15);
  std::lognormal_distribution<double> latency(std::log(median), 0.8);
  double total = 0;
  std::vector<double> cum(std::size(kLe), 0);
  for (int i = 0; i < scrapes; ++i) {
    const int n = arrivals(rng);
    total += n;
    // Sample a few latencies and scale, to keep generation cheap.
    const int k = std::min(n, 64);
    for (int j = 0; j < k; ++j) {
      const double l = latency(rng);
      for (size_t b = 0; b < std::size(kLe); ++b) {
        if (l <= kLeBound[b]) cum[b] += static_cast<double>(n) / k;
      }
    }
    reqs.push_back({ts[i], total});
    for (size_t b = 0; b < std::size(kLe); ++b) buckets[b]->push_back({ts[i], std::round(cum[b])});
  }
  return host;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

int Fail(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "quickstart: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

std::string FormatValue(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

std::string Matchers(const std::vector<strata::model::Matcher>& ms) {
  std::string out = "{";
  for (const auto& m : ms) {
    if (out.size() > 1) out += ", ";
    out += m.ToString();
  }
  return out + "}";
}

// Samples of the series matching `ms` in `db`, summed over series.
absl::StatusOr<size_t> CountSamples(strata::tsdb::DB& db,
                                    const std::vector<strata::model::Matcher>& ms) {
  auto q = db.NewQuerier(INT64_MIN, INT64_MAX);
  if (!q.ok()) return q.status();
  auto set = (*q)->Select(ms);
  size_t n = 0;
  while (set->Next()) {
    auto it = set->At().Iterator();
    while (it->Next()) ++n;
    if (!it->status().ok()) return it->status();
  }
  if (!set->status().ok()) return set->status();
  return n;
}

void PrintBlocks(strata::tsdb::DB& db, int64_t start) {
  for (const auto& b : db.Blocks()) {
    const auto& m = b->meta();
    std::printf("    block %s  [+%3lld min, +%3lld min)  level %d  %6llu samples  %llu"
                " tombstones\n",
                m.ulid.ToString().c_str(), static_cast<long long>((m.min_time - start) / 60000),
                static_cast<long long>((m.max_time - start) / 60000), m.compaction.level,
                static_cast<unsigned long long>(m.stats.num_samples),
                static_cast<unsigned long long>(b->tombstones().NumIntervals()));
  }
}

// Stage 5: part of the fleet in a DB with 20-minute blocks, so that 3 hours of data make
// several blocks that leveled compaction then merges (20 min -> 1 h -> 3 h ranges); each
// step prints what the DB did.
int RunDbStage(const std::vector<Host>& fleet, const std::string& dir, int64_t start,
               int scrapes) {
  namespace tsdb = strata::tsdb;
  const size_t hosts = std::min<size_t>(fleet.size(), 20);
  std::printf("\n[5] a DB (strata::tsdb::DB) in %s/ for %zu hosts, 20 min blocks\n", dir.c_str(),
              hosts);
  tsdb::DBOptions opts;
  opts.block_range = 20 * 60 * 1000;
  opts.wal_sync = tsdb::wal::SyncPolicy::kNone;  // a demo: fsync only at segment ends
  // The DB never prints; its logger hook reports each block written, merged or rewritten.
  opts.logger = [](std::string_view m) {
    std::printf("    log: %.*s\n", static_cast<int>(m.size()), m.data());
  };
  auto db = tsdb::DB::Open(dir, opts);
  if (!db.ok()) return Fail("opening the DB", db.status());
  size_t appended = 0;
  std::vector<std::vector<strata::model::SeriesRef>> refs(hosts);
  for (int i = 0; i < scrapes; ++i) {
    for (size_t h = 0; h < hosts; ++h) {
      refs[h].resize(fleet[h].series.size(), 0);
      auto app = (*db)->NewAppender();
      for (size_t k = 0; k < fleet[h].series.size(); ++k) {
        const Series& s = fleet[h].series[k];
        auto ref = app->Append(refs[h][k], s.lset, s.samples[i].t, s.samples[i].v);
        if (!ref.ok()) return Fail("appending to the DB", ref.status());
        refs[h][k] = *ref;
        ++appended;
      }
      if (absl::Status s = app->Commit(); !s.ok()) return Fail("committing to the DB", s);
    }
  }
  const tsdb::DBStats during = (*db)->Stats();
  std::printf("  appended %zu samples to the head (WAL-backed); meanwhile the DB's background\n"
              "    compaction (woken by commits that leave the head over 1.5 block ranges)\n"
              "    ran %llu times: %llu blocks cut from the head, %llu merges\n",
              appended, static_cast<unsigned long long>(during.background_compactions),
              static_cast<unsigned long long>(during.blocks_created),
              static_cast<unsigned long long>(during.blocks_merged));

  // Whatever the background thread has not done yet, an explicit Compact() finishes.
  if (absl::Status s = (*db)->Compact(); !s.ok()) return Fail("compacting", s);
  const tsdb::DBStats st = (*db)->Stats();
  std::printf("  Compact(): in all %llu blocks cut from the head, %llu merges into larger"
              " ranges; the head keeps the newest %.0f min\n",
              static_cast<unsigned long long>(st.blocks_created),
              static_cast<unsigned long long>(st.blocks_merged),
              ((*db)->head().MaxTime() - (*db)->head().MinTime()) / 60000.0);
  PrintBlocks(**db, start);

  std::vector<strata::model::Matcher> victim;
  for (auto [n, v] : {std::pair{"__name__", "http_requests_total"},
                      std::pair{"instance", "host-1:9100"}}) {
    auto m = strata::model::Matcher::Create(strata::model::MatchType::kEqual, n, v);
    if (!m.ok()) return Fail("building a matcher", m.status());
    victim.push_back(*m);
  }
  auto before = CountSamples(**db, victim);
  if (!before.ok()) return Fail("querying", before.status());
  if (absl::Status s = (*db)->Delete(INT64_MIN, INT64_MAX, victim); !s.ok()) {
    return Fail("deleting", s);
  }
  auto after = CountSamples(**db, victim);
  if (!after.ok()) return Fail("querying", after.status());
  std::printf("  Delete(all time, %s): %zu samples before, %zu after;\n"
              "    every block got a tombstone for it, the head logged one to its WAL\n",
              Matchers(victim).c_str(), *before, *after);
  PrintBlocks(**db, start);

  strata::promql::Engine engine;
  const int64_t at = start + int64_t{scrapes - 1} * kScrapeMs;
  auto res = engine.InstantQuery(**db, "count(http_requests_total)", at);
  if (!res.ok()) return Fail("count(http_requests_total)", res.status());
  const double left = res->vector.empty() ? 0 : res->vector[0].v;
  std::printf("  count(http_requests_total) at the last scrape: %s series (of %zu hosts)\n",
              FormatValue(left).c_str(), hosts);

  if (absl::Status s = (*db)->CleanTombstones(); !s.ok()) return Fail("cleaning tombstones", s);
  std::printf("  CleanTombstones(): blocks rewritten without the deleted samples\n");
  PrintBlocks(**db, start);
  if (absl::Status s = (*db)->Close(); !s.ok()) return Fail("closing the DB", s);

  auto re = tsdb::DB::Open(dir, opts);
  if (!re.ok()) return Fail("reopening the DB", re.status());
  auto again = CountSamples(**re, victim);
  if (!again.ok()) return Fail("querying the reopened DB", again.status());
  std::printf("  reopened (blocks + WAL replay): %zu samples of the deleted series\n", *again);
  if (*before == 0 || *after != 0 || *again != 0 || left != static_cast<double>(hosts - 1)) {
    std::fprintf(stderr, "quickstart: the deletion did not hold\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int hosts = 200;
  int scrapes = 720;  // 3 hours at 15 s
  std::string data = "quickstart-data";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--hosts" && i + 1 < argc) {
      hosts = std::atoi(argv[++i]);
    } else if (a == "--scrapes" && i + 1 < argc) {
      scrapes = std::atoi(argv[++i]);
    } else if (a == "--data" && i + 1 < argc) {
      data = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--hosts N] [--scrapes N] [--data DIR]\n", argv[0]);
      return 2;
    }
  }
  if (hosts <= 0 || scrapes <= 0) {
    std::fprintf(stderr, "quickstart: --hosts and --scrapes must be positive\n");
    return 2;
  }

  const int64_t start = 1'700'000'000'000;
  std::printf("strata quickstart: %d hosts, %d scrapes at 15 s each, data in %s/\n", hosts,
              scrapes, data.c_str());
  std::vector<Host> fleet;
  fleet.reserve(hosts);
  std::mt19937_64 rng(42);
  for (int h = 0; h < hosts; ++h) fleet.push_back(MakeHost(h, scrapes, start, rng));
  size_t nseries = 0, nsamples = 0;
  for (const Host& h : fleet) {
    nseries += h.series.size();
    for (const Series& s : h.series) nsamples += s.samples.size();
  }

  // ---- 1. chunkenc -------------------------------------------------------------------
  std::printf("\n[1] XOR chunks (strata::chunkenc), 120 samples per chunk as Prometheus's head\n");
  size_t bytes = 0, nchunks = 0, decoded = 0, mismatches = 0;
  const auto e0 = std::chrono::steady_clock::now();
  std::vector<std::string> chunks;
  for (const Host& h : fleet) {
    for (const Series& s : h.series) {
      for (size_t j = 0; j < s.samples.size(); j += 120) {
        std::string buf;
        strata::chunkenc::XorAppender app(&buf);
        for (size_t k = j; k < std::min(s.samples.size(), j + 120); ++k) {
          app.Append(s.samples[k].t, s.samples[k].v);
        }
        bytes += buf.size();
        chunks.push_back(std::move(buf));
      }
    }
  }
  const auto e1 = std::chrono::steady_clock::now();
  size_t c = 0;
  for (const Host& h : fleet) {
    for (const Series& s : h.series) {
      size_t k = 0;
      for (size_t j = 0; j < s.samples.size(); j += 120) {
        strata::chunkenc::XorIterator it(chunks[c++]);
        while (it.Next()) {
          if (!(it.At() == s.samples[k++])) ++mismatches;
          ++decoded;
        }
        if (!it.status().ok()) return Fail("decoding a chunk", it.status());
      }
    }
  }
  const auto e2 = std::chrono::steady_clock::now();
  nchunks = chunks.size();
  chunks.clear();
  std::printf("  %-30s %14zu\n", "series", nseries);
  std::printf("  %-30s %14zu\n", "samples", nsamples);
  std::printf("  %-30s %14zu\n", "chunks", nchunks);
  std::printf("  %-30s %14.3f   (raw: 16.000)\n", "bytes/sample",
              static_cast<double>(bytes) / nsamples);
  std::printf("  %-30s %12.1f M/s\n", "encode (1 core)", nsamples / Seconds(e1 - e0) / 1e6);
  std::printf("  %-30s %12.1f M/s\n", "decode + verify (1 core)",
              decoded / Seconds(e2 - e1) / 1e6);
  std::printf("  %-30s %14zu\n", "mismatched samples", mismatches);
  if (mismatches != 0 || decoded != nsamples) return 1;

  // ---- 2. head + WAL -----------------------------------------------------------------
  strata::base::FileSystem& fs = *strata::base::DefaultFileSystem();
  const std::string wal_dir = data + "/wal";
  if (absl::Status s = fs.RemoveAll(data); !s.ok()) return Fail("clearing the data dir", s);
  if (absl::Status s = fs.CreateDirs(wal_dir); !s.ok()) return Fail("creating the data dir", s);
  std::printf("\n[2] ingest through the head (strata::tsdb), WAL in %s, zstd records\n",
              wal_dir.c_str());
  strata::tsdb::wal::WriterOptions wopts;
  wopts.compression = strata::tsdb::wal::Compression::kZstd;
  auto writer = strata::tsdb::wal::Writer::Open(wal_dir, wopts);
  if (!writer.ok()) return Fail("opening the WAL", writer.status());
  strata::tsdb::WalWriterSink sink(writer->get());
  strata::tsdb::HeadOptions hopts;
  hopts.wal = &sink;
  strata::tsdb::Head head(hopts);

  // Two scrapers, each owning half of the hosts; one commit per host and scrape, as a
  // Prometheus scrape loop commits.
  constexpr int kThreads = 2;
  std::vector<absl::Status> errors(kThreads);
  const auto i0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      std::vector<std::vector<strata::model::SeriesRef>> refs(fleet.size());
      for (int i = 0; i < scrapes && errors[w].ok(); ++i) {
        for (size_t h = w; h < fleet.size(); h += kThreads) {
          auto& r = refs[h];
          r.resize(fleet[h].series.size(), 0);
          auto app = head.NewAppender();
          for (size_t k = 0; k < fleet[h].series.size(); ++k) {
            const Series& s = fleet[h].series[k];
            auto ref = app->Append(r[k], s.lset, s.samples[i].t, s.samples[i].v);
            if (!ref.ok()) {
              errors[w] = ref.status();
              return;
            }
            r[k] = *ref;
          }
          if (absl::Status s = app->Commit(); !s.ok()) {
            errors[w] = s;
            return;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto i1 = std::chrono::steady_clock::now();
  for (const absl::Status& s : errors) {
    if (!s.ok()) return Fail("appending", s);
  }
  if (absl::Status s = (*writer)->Close(); !s.ok()) return Fail("closing the WAL", s);
  std::printf("  %-30s %12.2f M samples/s (%d threads, WAL on, %zu commits)\n", "ingest rate",
              nsamples / Seconds(i1 - i0) / 1e6, kThreads, fleet.size() * scrapes);

  auto select_one = [&](strata::tsdb::Head& hd, const char* instance) -> absl::StatusOr<size_t> {
    auto q = hd.NewQuerier(start, start + int64_t{scrapes} * kScrapeMs);
    if (!q.ok()) return q.status();
    std::vector<strata::model::Matcher> ms;
    for (auto [n, v] : {std::pair{"__name__", "node_cpu_seconds_total"},
                        std::pair{"instance", instance}, std::pair{"mode", "user"},
                        std::pair{"cpu", "0"}}) {
      auto m = strata::model::Matcher::Create(strata::model::MatchType::kEqual, n, v);
      if (!m.ok()) return m.status();
      ms.push_back(*m);
    }
    auto set = (*q)->Select(ms);
    size_t n = 0;
    Sample last;
    while (set->Next()) {
      auto it = set->At().Iterator();
      while (it->Next()) {
        last = it->At();
        ++n;
      }
      if (!it->status().ok()) return it->status();
      std::printf("  %s: %zu samples, last %s @ %lld\n", set->At().labels().ToString().c_str(),
                  n, FormatValue(last.v).c_str(), static_cast<long long>(last.t));
    }
    if (!set->status().ok()) return set->status();
    return n;
  };
  auto got = select_one(head, "host-0:9100");
  if (!got.ok()) return Fail("querying the head", got.status());

  // ---- 3. recovery ---------------------------------------------------------------------
  std::printf("\n[3] recovery: a fresh head replays the WAL alone\n");
  strata::tsdb::Head recovered;
  strata::tsdb::WalReplayStats rs;
  const auto r0 = std::chrono::steady_clock::now();
  if (absl::Status s = strata::tsdb::ReplayWal(fs, wal_dir, recovered, &rs); !s.ok()) {
    return Fail("replaying the WAL", s);
  }
  const auto r1 = std::chrono::steady_clock::now();
  std::printf("  replayed %llu series and %llu samples in %.2f s (%.1f M samples/s)\n",
              static_cast<unsigned long long>(rs.series),
              static_cast<unsigned long long>(rs.samples), Seconds(r1 - r0),
              rs.samples / Seconds(r1 - r0) / 1e6);
  auto again = select_one(recovered, "host-0:9100");
  if (!again.ok()) return Fail("querying the recovered head", again.status());
  if (rs.series != nseries || rs.samples != nsamples || *again != *got) {
    std::fprintf(stderr, "quickstart: recovery lost data\n");
    return 1;
  }

  // ---- 4. PromQL -----------------------------------------------------------------------
  const int64_t at = start + int64_t{scrapes - 1} * kScrapeMs;
  std::printf("\n[4] PromQL (strata::promql) at the last scrape\n");
  strata::promql::Engine engine;
  struct Question {
    const char* title;
    const char* query;
    const char* label;
  };
  const Question questions[] = {
      {"CPU use by mode, cores (fleet total)",
       "sort_desc(sum by (mode) (rate(node_cpu_seconds_total[5m])))", "mode"},
      {"p99 request latency by zone, seconds",
       "sort_desc(histogram_quantile(0.99, sum by (zone, le) "
       "(rate(http_request_duration_seconds_bucket[5m]))))",
       "zone"},
      {"top 5 hosts by traffic, requests/s",
       "sort_desc(topk(5, sum by (instance) (rate(http_requests_total[5m]))))", "instance"},
  };
  for (const Question& q : questions) {
    auto res = engine.InstantQuery(head, q.query, at);
    if (!res.ok()) return Fail(q.query, res.status());
    std::printf("\n  %s\n  %s\n", q.title, q.query);
    for (const auto& s : res->vector) {
      std::printf("    %-20s %12s\n", std::string(s.metric.Get(q.label)).c_str(),
                  FormatValue(s.v).c_str());
    }
    std::printf("    (%lld samples touched, evaluated in %.1f ms)\n",
                static_cast<long long>(res->stats.total_samples),
                absl::ToDoubleMilliseconds(res->stats.eval_time));
  }

  // ---- 5. DB: blocks, compaction, deletion ----------------------------------------------
  return RunDbStage(fleet, data + "/db", start, scrapes);
}
