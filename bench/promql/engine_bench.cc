// PromQL engine microbenchmarks over the in-memory storage of promqltest: a range query of
// rate() over many counters, `sum by` over many series, and histogram_quantile over classic
// buckets. Items are samples read from storage (series x samples in the queried range).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "strata/model/labels.h"
#include "strata/promql/engine.h"
#include "strata/promql/promqltest.h"

namespace strata::promql {
namespace {

constexpr int64_t kScrape = 15'000;  // 15s scrape interval
constexpr int kSamples = 240 * 2;    // 2h of samples per series

// `series` counters c_total{job, instance} with fixed-seed increments.
void LoadCounters(promqltest::MemStorage& db, int series) {
  uint64_t x = 42;
  for (int i = 0; i < series; ++i) {
    std::vector<model::Sample> s;
    double v = 0;
    for (int k = 0; k < kSamples; ++k) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      v += static_cast<double>(x >> 59);
      s.push_back(model::Sample{k * kScrape, v});
    }
    db.AddSeries(model::Labels{{"__name__", "c_total"},
                               {"job", "job" + std::to_string(i % 10)},
                               {"instance", "i" + std::to_string(i)}},
                 s);
  }
}

// `groups` classic histograms with 10 buckets each.
void LoadHistograms(promqltest::MemStorage& db, int groups) {
  static const char* kLe[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"};
  for (int g = 0; g < groups; ++g) {
    for (int b = 0; b < 10; ++b) {
      std::vector<model::Sample> s;
      for (int k = 0; k < kSamples; ++k) {
        s.push_back(model::Sample{k * kScrape, static_cast<double>(k * (b + 1))});
      }
      db.AddSeries(model::Labels{{"__name__", "lat_bucket"},
                                 {"instance", "i" + std::to_string(g)},
                                 {"le", kLe[b]}},
                   s);
    }
  }
}

void RunRange(benchmark::State& state, promqltest::MemStorage& db, const std::string& q,
              int64_t samples_per_query) {
  Engine e;
  const int64_t end = (kSamples - 1) * kScrape;
  const int64_t start = end - 3600'000;
  auto check = e.RangeQuery(db, q, start, end, 60'000);
  if (!check.ok() || check->matrix.empty()) {
    state.SkipWithError("query failed or returned nothing");
    return;
  }
  for (auto _ : state) {
    auto r = e.RangeQuery(db, q, start, end, 60'000);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * samples_per_query);
}

void BM_RateRange(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  promqltest::MemStorage db;
  LoadCounters(db, series);
  // 1h range query, step 1m, [5m] windows: each series' 65 minutes of samples are read.
  RunRange(state, db, "rate(c_total[5m])", int64_t{series} * (65 * 4));
}
BENCHMARK(BM_RateRange)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_SumByRange(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  promqltest::MemStorage db;
  LoadCounters(db, series);
  RunRange(state, db, "sum by (job) (rate(c_total[5m]))", int64_t{series} * (65 * 4));
}
BENCHMARK(BM_SumByRange)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_SumByInstant(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  promqltest::MemStorage db;
  LoadCounters(db, series);
  Engine e;
  for (auto _ : state) {
    auto r = e.InstantQuery(db, "sum by (job) (c_total)", (kSamples - 1) * kScrape);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * series);
}
BENCHMARK(BM_SumByInstant)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_HistogramQuantileRange(benchmark::State& state) {
  const int groups = static_cast<int>(state.range(0));
  promqltest::MemStorage db;
  LoadHistograms(db, groups);
  RunRange(state, db, "histogram_quantile(0.9, rate(lat_bucket[5m]))",
           int64_t{groups} * 10 * (65 * 4));
}
BENCHMARK(BM_HistogramQuantileRange)->Arg(10)->Arg(100)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strata::promql

// main() comes from parser_bench.cc (one executable per module).
