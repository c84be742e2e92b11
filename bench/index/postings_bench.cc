// Benchmarks of postings set algebra and matcher resolution over a MemPostings index.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>

#include "strata/index/mem_postings.h"
#include "strata/index/postings.h"
#include "strata/index/postings_for_matchers.h"
#include "strata/model/matcher.h"

namespace {

using strata::index::ListPostings;
using strata::index::Postings;
using strata::index::SeriesRef;

std::vector<SeriesRef> Every(SeriesRef step, SeriesRef n) {
  std::vector<SeriesRef> v;
  for (SeriesRef i = 1; i <= n; i += step) v.push_back(i);
  return v;
}

// A short list intersected with a long one: galloping Seek makes this O(short * log long).
void BM_IntersectShortLong(benchmark::State& state) {
  const auto long_list = Every(1, 1'000'000);
  const auto short_list = Every(997, 1'000'000);
  size_t n = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<Postings>> its;
    its.push_back(ListPostings::Borrow(short_list));
    its.push_back(ListPostings::Borrow(long_list));
    auto p = strata::index::Intersect(std::move(its));
    n = 0;
    while (p->Next()) ++n;
    if (n != short_list.size()) state.SkipWithError("wrong intersection");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(short_list.size()));
}
BENCHMARK(BM_IntersectShortLong);

// Union of 100 interleaved lists of 10,000 refs each (refs per second).
void BM_Merge100(benchmark::State& state) {
  std::vector<std::vector<SeriesRef>> lists(100);
  for (SeriesRef i = 1; i <= 1'000'000; ++i) lists[i % 100].push_back(i);
  for (auto _ : state) {
    std::vector<std::unique_ptr<Postings>> its;
    for (const auto& l : lists) its.push_back(ListPostings::Borrow(l));
    auto p = strata::index::Merge(std::move(its));
    size_t n = 0;
    while (p->Next()) ++n;
    if (n != 1'000'000) state.SkipWithError("wrong union");
  }
  state.SetItemsProcessed(state.iterations() * 1'000'000);
}
BENCHMARK(BM_Merge100);

// {__name__="metric_7", instance=~"host-1.*"} over 100,000 series (100 names x 1,000 hosts).
void BM_PostingsForMatchers(benchmark::State& state) {
  strata::index::MemPostings mp;
  SeriesRef ref = 0;
  for (int h = 0; h < 1000; ++h) {
    for (int m = 0; m < 100; ++m) {
      mp.Add(++ref, strata::model::Labels{{"__name__", "metric_" + std::to_string(m)},
                                          {"instance", "host-" + std::to_string(h)},
                                          {"job", "node"}});
    }
  }
  auto reader = strata::index::NewMemPostingsReader(mp);
  const std::vector<strata::model::Matcher> ms = {
      *strata::model::Matcher::Create(strata::model::MatchType::kEqual, "__name__", "metric_7"),
      *strata::model::Matcher::Create(strata::model::MatchType::kRegexMatch, "instance",
                                      "host-1.*")};
  for (auto _ : state) {
    auto p = strata::index::PostingsForMatchers(*reader, ms);
    size_t n = 0;
    while ((*p)->Next()) ++n;
    if (n != 111) state.SkipWithError("wrong result");
  }
}
BENCHMARK(BM_PostingsForMatchers);

}  // namespace

BENCHMARK_MAIN();
