#include <gtest/gtest.h>

#include "strata/storage/querier.h"
#include "testing/status_matchers.h"

namespace strata::storage {
namespace {

using model::Labels;
using model::Sample;

// A querier over fixed series, filtering by matchers.
class FakeQuerier final : public Querier {
 public:
  explicit FakeQuerier(std::vector<std::pair<Labels, std::vector<Sample>>> data)
      : data_(std::move(data)) {}
  std::unique_ptr<SeriesSet> Select(const std::vector<model::Matcher>& ms,
                                    const SelectHints*) override {
    std::vector<std::unique_ptr<Series>> out;
    for (const auto& [l, s] : data_) {
      if (model::MatchesAll(ms, l)) out.push_back(std::make_unique<VectorSeries>(l, s));
    }
    return std::make_unique<VectorSeriesSet>(std::move(out));
  }
  absl::StatusOr<std::vector<std::string>> LabelNames(const std::vector<model::Matcher>&) override {
    std::vector<std::string> out;
    for (const auto& [l, s] : data_)
      for (const auto& lab : l) out.emplace_back(lab.name);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  absl::StatusOr<std::vector<std::string>> LabelValues(const std::string& name,
                                                       const std::vector<model::Matcher>&) override {
    std::vector<std::string> out;
    for (const auto& [l, s] : data_)
      if (l.Has(name)) out.emplace_back(l.Get(name));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  std::vector<std::pair<Labels, std::vector<Sample>>> data_;
};

std::vector<Sample> Drain(SampleIterator& it) {
  std::vector<Sample> out;
  while (it.Next()) out.push_back(it.At());
  EXPECT_TRUE(it.status().ok());
  return out;
}

TEST(MergeQuerierTest, MergesEqualSeriesAndDedupsTimestamps) {
  Labels a{{"__name__", "m"}, {"i", "a"}}, b{{"__name__", "m"}, {"i", "b"}},
      c{{"__name__", "m"}, {"i", "c"}};
  std::vector<std::unique_ptr<Querier>> qs;
  qs.push_back(std::make_unique<FakeQuerier>(std::vector<std::pair<Labels, std::vector<Sample>>>{
      {c, {{1, 1}}}, {a, {{1, 1}, {3, 3}}}}));
  qs.push_back(std::make_unique<FakeQuerier>(std::vector<std::pair<Labels, std::vector<Sample>>>{
      {a, {{2, 2}, {3, 30}, {4, 4}}}, {b, {{5, 5}}}}));
  auto q = NewMergeQuerier(std::move(qs));
  auto m = model::Matcher::Create(model::MatchType::kEqual, "__name__", "m");
  auto set = q->Select({*m});
  std::vector<Labels> seen;
  std::vector<std::vector<Sample>> samples;
  while (set->Next()) {
    seen.push_back(set->At().labels());
    auto it = set->At().Iterator();
    samples.push_back(Drain(*it));
  }
  STRATA_ASSERT_OK(set->status());
  ASSERT_EQ(seen, (std::vector<Labels>{a, b, c}));
  // First source wins on the shared timestamp 3.
  EXPECT_EQ(samples[0], (std::vector<Sample>{{1, 1}, {2, 2}, {3, 3}, {4, 4}}));
  EXPECT_EQ(samples[1], (std::vector<Sample>{{5, 5}}));

  STRATA_ASSERT_OK_AND_ASSIGN(auto values, q->LabelValues("i"));
  EXPECT_EQ(values, (std::vector<std::string>{"a", "b", "c"}));
  STRATA_ASSERT_OK_AND_ASSIGN(auto names, q->LabelNames());
  EXPECT_EQ(names, (std::vector<std::string>{"__name__", "i"}));
}

TEST(MergeSampleIteratorTest, SeekNeverMovesBack) {
  std::vector<std::unique_ptr<SampleIterator>> its;
  its.push_back(std::make_unique<VectorSampleIterator>(std::vector<Sample>{{1, 1}, {5, 5}}));
  its.push_back(std::make_unique<VectorSampleIterator>(std::vector<Sample>{{2, 2}, {6, 6}}));
  auto it = NewMergeSampleIterator(std::move(its));
  ASSERT_TRUE(it->Seek(2));
  EXPECT_EQ(it->At().t, 2);
  ASSERT_TRUE(it->Seek(1));
  EXPECT_EQ(it->At().t, 2);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At().t, 5);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At().t, 6);
  EXPECT_FALSE(it->Next());
}

// Reports start timestamp t - 1 for every sample (a source that knows them).
class StSampleIterator final : public SampleIterator {
 public:
  explicit StSampleIterator(std::vector<Sample> s) : it_(std::move(s)) {}
  bool Next() override { return it_.Next(); }
  bool Seek(int64_t t) override { return it_.Seek(t); }
  model::Sample At() const override { return it_.At(); }
  int64_t AtST() const override { return it_.At().t - 1; }
  absl::Status status() const override { return it_.status(); }

 private:
  VectorSampleIterator it_;
};

TEST(MergeSampleIteratorTest, StartTimestampComesFromTheEmittingSource) {
  std::vector<std::unique_ptr<SampleIterator>> its;
  its.push_back(std::make_unique<VectorSampleIterator>(std::vector<Sample>{{1, 1}, {3, 3}}));
  its.push_back(std::make_unique<StSampleIterator>(std::vector<Sample>{{2, 2}, {3, 30}}));
  auto it = NewMergeSampleIterator(std::move(its));
  std::vector<std::pair<int64_t, int64_t>> got;  // (t, st)
  while (it->Next()) got.emplace_back(it->At().t, it->AtST());
  // At 3 the first source wins, and it has no start timestamps.
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, int64_t>>{
                     {1, kNoStartTimestamp}, {2, 1}, {3, kNoStartTimestamp}}));
  // The default for sources without start timestamps.
  VectorSampleIterator plain({{5, 5}});
  ASSERT_TRUE(plain.Next());
  EXPECT_EQ(plain.AtST(), kNoStartTimestamp);
}

}  // namespace
}  // namespace strata::storage
