// Benchmarks of the head block: Select + full sample iteration, and appends by ref.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "strata/model/matcher.h"
#include "strata/tsdb/head.h"

namespace {

using strata::model::Labels;
using strata::model::Matcher;
using strata::model::MatchType;

constexpr int64_t kStep = 15'000;
constexpr int kSamplesPerSeries = 480;  // 2h at 15s: four 120-sample chunks

// A head with 1, 10 and 1000 series under g="one", "ten", "thousand", and 8989 others,
// every series with kSamplesPerSeries samples. Built once, checked once.
strata::tsdb::Head& SharedHead() {
  static strata::tsdb::Head* head = [] {
    auto* h = new strata::tsdb::Head();
    std::vector<std::pair<Labels, int>> series;
    int id = 0;
    auto add = [&](const char* g, int n) {
      for (int i = 0; i < n; ++i, ++id) {
        series.push_back({Labels{{"__name__", "bench_metric"},
                                 {"g", g},
                                 {"instance", "host-" + std::to_string(id) + ":9100"},
                                 {"job", "node"}},
                          id});
      }
    };
    add("one", 1);
    add("ten", 10);
    add("thousand", 1000);
    add("other", 8989);
    std::vector<strata::model::SeriesRef> refs(series.size(), 0);
    for (int s = 0; s < kSamplesPerSeries; ++s) {
      auto app = h->NewAppender();
      for (size_t i = 0; i < series.size(); ++i) {
        auto r = app->Append(refs[i], series[i].first, int64_t{s} * kStep,
                             static_cast<double>(s * (i % 7 + 1)));
        if (!r.ok()) std::abort();
        refs[i] = *r;
      }
      if (!app->Commit().ok()) std::abort();
    }
    return h;
  }();
  return *head;
}

void BM_HeadSelectIterate(benchmark::State& state, const char* group, int want_series) {
  strata::tsdb::Head& h = SharedHead();
  auto m = Matcher::Create(MatchType::kEqual, "g", group);
  const std::vector<Matcher> ms = {*m};
  int64_t samples = 0;
  for (auto _ : state) {
    auto q = h.NewQuerier(0, kSamplesPerSeries * kStep);
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
    if (n != want_series || samples != int64_t{want_series} * kSamplesPerSeries) {
      state.SkipWithError("unexpected result size");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * samples);
  state.counters["series"] = want_series;
}
BENCHMARK_CAPTURE(BM_HeadSelectIterate, series_1, "one", 1);
BENCHMARK_CAPTURE(BM_HeadSelectIterate, series_10, "ten", 10);
BENCHMARK_CAPTURE(BM_HeadSelectIterate, series_1000, "thousand", 1000);

// One thread appending one sample to each of 10000 existing series per batch, by ref.
void BM_HeadAppendByRef(benchmark::State& state) {
  strata::tsdb::Head h;
  constexpr int kSeries = 10000;
  std::vector<strata::model::SeriesRef> refs(kSeries, 0);
  {
    auto app = h.NewAppender();
    for (int i = 0; i < kSeries; ++i) {
      refs[i] = *app->Append(0, Labels{{"__name__", "m"}, {"i", std::to_string(i)}}, 0, 0);
    }
    if (!app->Commit().ok()) std::abort();
  }
  int64_t t = 0;
  for (auto _ : state) {
    t += kStep;
    auto app = h.NewAppender();
    for (int i = 0; i < kSeries; ++i) {
      benchmark::DoNotOptimize(app->Append(refs[i], Labels(), t, static_cast<double>(t + i)));
    }
    if (!app->Commit().ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * kSeries);
}
BENCHMARK(BM_HeadAppendByRef);

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, which turns on absl::Mutex deadlock detection
  // process-wide; production builds of Abseil have it off. Match them.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
