// Benchmarks of a persisted block: Select by one matcher + iteration of every sample, the
// block-side twin of head_bench.cc's BM_HeadSelectIterate (same series and samples).
//
// The block is written once by BlockWriter into a temporary directory (removed at exit):
// 10,000 series with 480 samples each (2 h at 15 s: four 120-sample chunks per series),
// under g="one", "ten", "thousand" (1, 10 and 1,000 series) and "other", all job="node".
// Each iteration opens a querier over the whole block, selects, and decodes every sample;
// the result size is checked on every iteration. Items = samples, so rates are samples/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "strata/base/file_system.h"
#include "strata/model/matcher.h"
#include "strata/tsdb/block/block.h"
#include "strata/tsdb/block/block_writer.h"

namespace {

using strata::model::Labels;
using strata::model::Matcher;
using strata::model::MatchType;

constexpr int64_t kStep = 15'000;
constexpr int kSamplesPerSeries = 480;
constexpr int kSeries = 10'000;

std::string& TempDir() {
  static std::string dir;
  return dir;
}

strata::tsdb::block::Block& SharedBlock() {
  static std::shared_ptr<strata::tsdb::block::Block> block = [] {
    char tmpl[] = "/tmp/strata-block-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    TempDir() = tmpl;
    strata::base::FileSystem& fs = *strata::base::DefaultFileSystem();
    strata::tsdb::block::BlockWriter w(fs, tmpl);
    int id = 0;
    auto add = [&](const char* g, int n) {
      for (int i = 0; i < n; ++i, ++id) {
        std::vector<strata::model::Sample> samples;
        samples.reserve(kSamplesPerSeries);
        for (int s = 0; s < kSamplesPerSeries; ++s) {
          samples.push_back({int64_t{s} * kStep, static_cast<double>(s * (id % 7 + 1))});
        }
        Labels lset{{"__name__", "bench_metric"},
                    {"g", g},
                    {"instance", "host-" + std::to_string(id) + ":9100"},
                    {"job", "node"}};
        if (!w.AddSeries(std::move(lset), std::move(samples)).ok()) std::abort();
      }
    };
    add("one", 1);
    add("ten", 10);
    add("thousand", 1000);
    add("other", kSeries - 1011);
    auto meta = w.Flush();
    if (!meta.ok()) std::abort();
    auto b = strata::tsdb::block::Block::Open(fs, std::string(tmpl) + "/" + meta->ulid.ToString());
    if (!b.ok()) std::abort();
    return *b;
  }();
  return *block;
}

void BM_BlockSelectIterate(benchmark::State& state, const char* name, const char* value,
                           int want_series) {
  strata::tsdb::block::Block& b = SharedBlock();
  auto m = Matcher::Create(MatchType::kEqual, name, value);
  const std::vector<Matcher> ms = {*m};
  int64_t samples = 0;
  for (auto _ : state) {
    auto q = b.NewQuerier(0, kSamplesPerSeries * kStep);
    auto set = (*q)->Select(ms);
    int n = 0;
    samples = 0;
    while (set->Next()) {
      auto it = set->At().Iterator();
      while (it->Next()) {
        benchmark::DoNotOptimize(it->At());
        ++samples;
      }
      ++n;
    }
    if (!set->status().ok() || n != want_series ||
        samples != int64_t{want_series} * kSamplesPerSeries) {
      state.SkipWithError("unexpected result size");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * samples);
  state.counters["series"] = want_series;
}
BENCHMARK_CAPTURE(BM_BlockSelectIterate, series_1, "g", "one", 1);
BENCHMARK_CAPTURE(BM_BlockSelectIterate, series_10, "g", "ten", 10);
BENCHMARK_CAPTURE(BM_BlockSelectIterate, series_1000, "g", "thousand", 1000);
BENCHMARK_CAPTURE(BM_BlockSelectIterate, series_10000, "job", "node", kSeries);

}  // namespace

int main(int argc, char** argv) {
  // As head_bench.cc: Debian's Abseil enables Mutex deadlock detection; production builds
  // have it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!TempDir().empty()) {
    std::error_code ec;
    std::filesystem::remove_all(TempDir(), ec);
  }
  return 0;
}
