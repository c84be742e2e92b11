// strata-bench-write: the work of `promtool tsdb bench write` (cmd/promtool/tsdb.go,
// Prometheus 2.42) done through strata's head appender.
//
//   strata-bench-write [--out DIR] [--metrics N] [--scrapes N] [FILE]
//
// Like promtool it reads label sets from FILE (one JSON object of string pairs per line),
// keeps the first --metrics distinct ones, and then ingests --scrapes scrapes: in rounds of
// 100 scrapes, the series are split into shards of 1000, each shard ingested by its own
// thread (promtool: one goroutine per shard) as 100 appender batches, one per scrape, 30s
// apart, every value increasing by 1000 per scrape, appending by ref after the first scrape.
// It prints the same summary lines (total samples, samples/sec).
//
// Like promtool's DB (tsdb.Open with WAL compression off and no per-commit fsync), every
// commit is written to a write-ahead log, in --out/wal (uncompressed, SyncPolicy::kNone);
// --no-wal skips it. promtool additionally m-maps full head chunks to --out/chunks_head,
// which strata's head keeps in memory.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "strata/model/labels.h"
#include "strata/tsdb/head.h"
#include "strata/tsdb/head_wal.h"
#include "strata/tsdb/wal/writer.h"

namespace {

using strata::model::Labels;
using strata::model::SeriesRef;

constexpr int64_t kTimeDelta = 30000;  // promtool's timeDelta (ms)

// Parses one flat JSON object of string values: {"a":"b","c":"d"}. Handles backslash escapes.
// Returns false on anything else.
bool ParseLine(std::string_view line,
               std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
  };
  auto str = [&](std::string* s) {
    skip_ws();
    if (i >= line.size() || line[i] != '"') return false;
    ++i;
    s->clear();
    while (i < line.size() && line[i] != '"') {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      s->push_back(line[i++]);
    }
    if (i >= line.size()) return false;
    ++i;
    return true;
  };
  skip_ws();
  if (i >= line.size() || line[i] != '{') return false;
  ++i;
  for (;;) {
    skip_ws();
    if (i < line.size() && line[i] == '}') return true;
    std::string k, v;
    if (!str(&k)) return false;
    skip_ws();
    if (i >= line.size() || line[i] != ':') return false;
    ++i;
    if (!str(&v)) return false;
    out->emplace_back(std::move(k), std::move(v));
    skip_ws();
    if (i < line.size() && line[i] == ',') ++i;
  }
}

void Usage() {
  std::fprintf(stderr,
               "usage: strata-bench-write [--out DIR] [--metrics N] [--scrapes N] [--no-wal] "
               "[FILE]\n"
               "  --out      output path (default benchout)\n"
               "  --metrics  number of metrics to read (default 10000)\n"
               "  --scrapes  number of scrapes to simulate (default 3000)\n"
               "  FILE       input file with label sets, one JSON object per line\n"
               "             (default ../../tsdb/testdata/20kseries.json)\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, which turns on absl::Mutex deadlock detection
  // process-wide (a cycle-graph update on every nested lock). Production builds of Abseil
  // have it off; match them.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::string out = "benchout";
  std::string file = "../../tsdb/testdata/20kseries.json";
  int metrics = 10000;
  int scrapes = 3000;
  bool use_wal = true;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view flag) -> const char* {
      if (a.starts_with(flag) && a.size() > flag.size() && a[flag.size()] == '=') {
        return argv[i] + flag.size() + 1;
      }
      if (a == flag && i + 1 < argc) return argv[++i];
      return nullptr;
    };
    if (const char* v = value("--out")) {
      out = v;
    } else if (const char* v = value("--metrics")) {
      metrics = std::atoi(v);
    } else if (const char* v = value("--scrapes")) {
      scrapes = std::atoi(v);
    } else if (a == "--no-wal") {
      use_wal = false;
    } else if (a == "-h" || a == "--help") {
      Usage();
      return 0;
    } else if (!a.starts_with("-")) {
      file = std::string(a);
    } else {
      Usage();
      return 2;
    }
  }

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    std::fprintf(stderr, "create %s: %s\n", out.c_str(), ec.message().c_str());
    return 1;
  }

  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  std::vector<Labels> lbls;
  {
    std::ifstream in(file);
    if (!in) {
      std::fprintf(stderr, "open %s: cannot read\n", file.c_str());
      return 1;
    }
    absl::flat_hash_set<uint64_t> hashes;
    std::string line;
    std::vector<std::pair<std::string, std::string>> pairs;
    int lineno = 0;
    while (static_cast<int>(lbls.size()) < metrics && std::getline(in, line)) {
      ++lineno;
      if (!ParseLine(line, &pairs)) {
        std::fprintf(stderr, "%s:%d: not a flat JSON object of strings\n", file.c_str(),
                     lineno);
        return 1;
      }
      std::vector<std::pair<std::string_view, std::string_view>> views(pairs.begin(),
                                                                         pairs.end());
      Labels l = Labels::FromPairs(std::move(views));
      if (!hashes.insert(l.Hash()).second) continue;  // promtool skips repeated sets
      lbls.push_back(std::move(l));
    }
  }
  std::printf(">> completed stage=readData duration=%.3fs\n",
              std::chrono::duration<double>(Clock::now() - t0).count());

  std::unique_ptr<strata::tsdb::wal::Writer> wal;
  std::unique_ptr<strata::tsdb::WalWriterSink> sink;
  strata::tsdb::HeadOptions ho;
  if (use_wal) {
    auto w = strata::tsdb::wal::Writer::Open(out + "/wal", {});
    if (!w.ok()) {
      std::fprintf(stderr, "open WAL: %s\n", w.status().ToString().c_str());
      return 1;
    }
    wal = std::move(*w);
    sink = std::make_unique<strata::tsdb::WalWriterSink>(wal.get());
    ho.wal = sink.get();
  }
  strata::tsdb::Head head(ho);
  std::atomic<uint64_t> total{0};
  std::atomic<bool> failed{false};

  auto shard = [&](std::span<const Labels> batch, int scrape_count, int64_t baset) {
    struct Sample {
      const Labels* labels;
      int64_t value;
      SeriesRef ref;
    };
    std::vector<Sample> scrape;
    scrape.reserve(batch.size());
    for (const Labels& l : batch) scrape.push_back({&l, 123456789, 0});
    int64_t ts = baset;
    uint64_t n = 0;
    for (int i = 0; i < scrape_count; ++i) {
      auto app = head.NewAppender();
      ts += kTimeDelta;
      for (Sample& s : scrape) {
        s.value += 1000;
        auto ref = app->Append(s.ref, *s.labels, ts, static_cast<double>(s.value));
        if (!ref.ok()) {
          std::fprintf(stderr, "append: %s\n", ref.status().ToString().c_str());
          failed = true;
          return;
        }
        if (s.ref == 0) s.ref = *ref;
        ++n;
      }
      absl::Status st = app->Commit();
      if (!st.ok()) {
        std::fprintf(stderr, "commit: %s\n", st.ToString().c_str());
        failed = true;
        return;
      }
    }
    total += n;
  };

  auto t1 = Clock::now();
  for (int i = 0; i < scrapes; i += 100) {
    std::vector<std::thread> threads;
    std::span<const Labels> rest(lbls);
    while (!rest.empty()) {
      const size_t l = std::min<size_t>(1000, rest.size());
      auto batch = rest.subspan(0, l);
      rest = rest.subspan(l);
      // promtool always ingests 100 scrapes per round, even past --scrapes.
      threads.emplace_back(shard, batch, 100, kTimeDelta * i);
    }
    for (auto& t : threads) t.join();
  }
  const double dur = std::chrono::duration<double>(Clock::now() - t1).count();
  std::printf("ingestion completed\n");
  std::printf(">> completed stage=ingestScrapes duration=%.3fs\n", dur);
  std::printf(" > total samples: %llu\n", static_cast<unsigned long long>(total.load()));
  std::printf(" > samples/sec: %.3f\n", static_cast<double>(total.load()) / dur);
  auto t2 = Clock::now();
  if (wal != nullptr) {
    if (absl::Status st = wal->Close(); !st.ok()) {
      std::fprintf(stderr, "close WAL: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  std::printf(">> completed stage=stopStorage duration=%.3fs\n",
              std::chrono::duration<double>(Clock::now() - t2).count());
  if (failed) return 1;
  return 0;
}
