// WAL Log throughput: records/s and MB/s (of uncompressed record bytes) for typical
// sample batches, with and without zstd, and with several appender threads sharing one
// writer. Writes to a temporary directory under $TMPDIR (default /tmp) with
// SyncPolicy::kNone (Prometheus's default: fsync at segment end), so the figures measure the
// encode + page-buffer + write(2) path, not the disk's fsync latency.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "strata/tsdb/record/record.h"
#include "strata/tsdb/wal/reader.h"
#include "strata/tsdb/wal/writer.h"

namespace strata::tsdb::wal {
namespace {

// A scrape-like samples record: `n` series with consecutive refs, one timestamp, gauge-ish
// values (random walk, fixed seed).
std::string SamplesRecord(int n, int64_t t, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<record::RefSample> s;
  s.reserve(n);
  double v = 100;
  for (int i = 0; i < n; ++i) {
    v += static_cast<double>(rng() % 1000) / 100.0 - 5.0;
    s.push_back(record::RefSample{static_cast<model::SeriesRef>(i + 1), t, v});
  }
  std::string out;
  record::EncodeSamples(s, &out);
  return out;
}

struct Dir {
  Dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/strata-walbench-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~Dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

// state.range(0): samples per record; the writer is shared by all benchmark threads.
void BM_WalLog(benchmark::State& state, Compression compression) {
  static std::unique_ptr<Dir> dir;
  static std::unique_ptr<Writer> w;
  if (state.thread_index() == 0) {
    dir = std::make_unique<Dir>();
    WriterOptions opts;
    opts.compression = compression;
    auto opened = Writer::Open(dir->path + "/wal", opts);
    if (!opened.ok()) {
      state.SkipWithError(std::string(opened.status().message()).c_str());
      return;
    }
    w = std::move(*opened);
  }
  const int n = static_cast<int>(state.range(0));
  // Different timestamps per record so zstd does not see identical records.
  std::vector<std::string> recs;
  for (int i = 0; i < 16; ++i) recs.push_back(SamplesRecord(n, 1700000000000 + 15000 * i, i));
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& r = recs[i++ % recs.size()];
    const absl::Status s = w->Log({r});
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    bytes += static_cast<int64_t>(r.size());
  }
  state.SetItemsProcessed(state.iterations());  // records/s
  state.SetBytesProcessed(bytes);               // uncompressed record MB/s
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * n, benchmark::Counter::kIsRate);
  if (state.thread_index() == 0) {
    state.counters["record_bytes"] = static_cast<double>(recs[0].size());
    (void)w->Close();
    w.reset();
    dir.reset();
  }
}

// Replay speed of what BM_WalLog writes: records/s and MB/s read back through Reader.
void BM_WalRead(benchmark::State& state, Compression compression) {
  Dir dir;
  WriterOptions opts;
  opts.compression = compression;
  auto w = Writer::Open(dir.path + "/wal", opts);
  if (!w.ok()) {
    state.SkipWithError("open");
    return;
  }
  const int n = static_cast<int>(state.range(0));
  int64_t bytes = 0;
  constexpr int kRecords = 2000;
  for (int i = 0; i < kRecords; ++i) {
    const std::string r = SamplesRecord(n, 1700000000000 + 15000 * i, i);
    bytes += static_cast<int64_t>(r.size());
    if (!(*w)->Log({r}).ok()) state.SkipWithError("log");
  }
  (void)(*w)->Close();
  for (auto _ : state) {
    auto r = Reader::Open({SegmentRange{dir.path + "/wal"}});
    int count = 0;
    while ((*r)->Next()) ++count;
    if (count != kRecords || !(*r)->status().ok()) state.SkipWithError("read back");
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
  state.SetBytesProcessed(state.iterations() * bytes);
}

BENCHMARK_CAPTURE(BM_WalLog, none, Compression::kNone)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime();
BENCHMARK_CAPTURE(BM_WalLog, zstd, Compression::kZstd)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime();
BENCHMARK_CAPTURE(BM_WalLog, none, Compression::kNone)->Arg(100)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_WalLog, zstd, Compression::kZstd)->Arg(100)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_WalRead, none, Compression::kNone)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_WalRead, zstd, Compression::kZstd)->Arg(100)->Arg(1000);

}  // namespace
}  // namespace strata::tsdb::wal

BENCHMARK_MAIN();
