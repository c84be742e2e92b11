#include "strata/model/labels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "testing/status_matchers.h"

namespace strata::model {
namespace {

TEST(LabelsTest, SortsDropsEmptyAndLastWins) {
  Labels l{{"job", "a"}, {"__name__", "up"}, {"empty", ""}, {"job", "b"}};
  EXPECT_EQ(l.ToString(), R"({__name__="up", job="b"})");
  EXPECT_EQ(l.size(), 2u);
  EXPECT_EQ(l.MetricName(), "up");
  EXPECT_EQ(l.Get("missing"), "");
  EXPECT_TRUE(l.Has("job"));
  EXPECT_FALSE(l.Has("empty"));
}

TEST(LabelsTest, CompareFollowsPrometheus) {
  // labels.Compare: name first, then value, then shorter set first.
  Labels a{{"a", "1"}}, b{{"a", "1"}, {"b", "1"}}, c{{"a", "2"}}, d{{"b", "0"}};
  EXPECT_LT(Compare(a, b), 0);
  EXPECT_LT(Compare(b, c), 0);
  EXPECT_LT(Compare(c, d), 0);
  EXPECT_EQ(Compare(a, Labels{{"a", "1"}}), 0);
  EXPECT_GT(Compare(d, a), 0);
}

TEST(LabelsTest, EqualityAndHashAreConsistent) {
  std::mt19937 rng(1);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < 12; ++i) pairs.emplace_back("n" + std::to_string(i), std::to_string(rng()));
  std::vector<std::pair<std::string_view, std::string_view>> v1(pairs.begin(), pairs.end());
  auto v2 = v1;
  std::shuffle(v2.begin(), v2.end(), rng);
  Labels a = Labels::FromPairs(v1), b = Labels::FromPairs(v2);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Hash(), b.Hash());
  EXPECT_NE(a.Hash(), a.WithoutMetricName().Without({"n1"}).Hash());
}

// Copies share one buffer (so the head and its callers hold label text once) and stay
// valid on their own; copies made and dropped on many threads keep the count right (this
// test is meaningful under ASan/TSan: a miscounted buffer is a use-after-free or a leak).
TEST(LabelsTest, CopiesShareOneBufferAcrossThreads) {
  const Labels a{{"__name__", "up"}, {"job", "node"}, {"instance", "host-1:9100"}};
  Labels b = a;
  EXPECT_EQ(a.packed().data(), b.packed().data());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.heap_bytes(), b.heap_bytes());
  EXPECT_GT(a.heap_bytes(), a.packed().size());
  Labels moved = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(moved.packed().data(), a.packed().data());
  // Without a name that is absent shares; removing a present one makes a new buffer.
  EXPECT_EQ(a.Without({"absent"}).packed().data(), a.packed().data());
  const Labels no_job = a.Without({"job"});
  EXPECT_NE(no_job.packed().data(), a.packed().data());
  EXPECT_EQ(no_job, (Labels{{"__name__", "up"}, {"instance", "host-1:9100"}}));

  std::vector<std::thread> threads;
  std::vector<std::vector<Labels>> held(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        held[t].push_back(a);
        if (held[t].size() > 64) held[t].erase(held[t].begin(), held[t].begin() + 32);
        Labels c = held[t].back();
        c = held[t].front();
      }
    });
  }
  for (auto& th : threads) th.join();
  held.clear();
  EXPECT_EQ(a.ToString(), R"({__name__="up", instance="host-1:9100", job="node"})");
  EXPECT_TRUE(Labels().empty());
  EXPECT_EQ(Labels().heap_bytes(), 0u);
}

TEST(LabelsTest, BuilderSetsAndDeletes) {
  Labels base{{"__name__", "x"}, {"a", "1"}};
  LabelsBuilder b(base);
  b.Set("c", "3").Set("a", "").Set("b", "2");
  EXPECT_EQ(b.Build().ToString(), R"({__name__="x", b="2", c="3"})");
  EXPECT_EQ(b.Get("b"), "2");
  b.Del("__name__");
  EXPECT_EQ(b.Build(), (Labels{{"b", "2"}, {"c", "3"}}));
}

TEST(LabelsTest, HashForGroupsByAndWithout) {
  Labels a{{"__name__", "m"}, {"job", "x"}, {"inst", "1"}};
  Labels b{{"__name__", "m"}, {"job", "x"}, {"inst", "2"}};
  EXPECT_EQ(a.HashFor({"job"}, false), b.HashFor({"job"}, false));
  EXPECT_NE(a.HashFor({"inst"}, false), b.HashFor({"inst"}, false));
  EXPECT_EQ(a.HashFor({"inst"}, true), b.HashFor({"inst"}, true));
}

TEST(LabelsTest, PackedRoundTripAndValidation) {
  Labels a{{"__name__", "m"}, {"job", "x"}};
  Labels b;
  STRATA_ASSERT_OK(Labels::FromPacked(a.packed(), &b));
  EXPECT_EQ(a, b);
  EXPECT_FALSE(Labels::FromPacked("\x05" "ab", &b).ok());
  // Unsorted names are rejected.
  EXPECT_FALSE(Labels::FromPacked(std::string("\x01z\x01v\x01" "a\x01v"), &b).ok());
}

TEST(LabelsTest, ToStringQuotesLikeGo) {
  Labels a{{"a", "x\"y\\z\n\t\x01"}};
  EXPECT_EQ(a.ToString(), R"({a="x\"y\\z\n\t\x01"})");
  EXPECT_EQ(QuoteGo("h\xc3\xa9"), "\"h\xc3\xa9\"");  // valid UTF-8 kept
  EXPECT_EQ(QuoteGo("\xff"), R"("\xff")");
}

TEST(LabelsTest, ValidateLabelsUsesPrometheusRules) {
  STRATA_EXPECT_OK(ValidateLabels(Labels{{"__name__", "http_requests:rate5m"}, {"job", "a"}},
                                  NameValidation::kLegacy));
  EXPECT_THAT(ValidateLabels(Labels{{"job", "a"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("metric name")));
  EXPECT_THAT(ValidateLabels(Labels{{"__name__", "1up"}}, NameValidation::kLegacy),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("invalid metric name \"1up\"")));
  EXPECT_THAT(ValidateLabels(Labels{{"__name__", "up"}, {"a-b", "1"}}, NameValidation::kLegacy),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("invalid label name \"a-b\"")));
  // 3.x accepts UTF-8 names, but never invalid UTF-8.
  STRATA_EXPECT_OK(ValidateLabels(Labels{{"__name__", "up.total"}, {"a-b", "1"}}));
  EXPECT_FALSE(ValidateLabels(Labels{{"__name__", "up"}, {"a", "\xc3"}}).ok());
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));
}

}  // namespace
}  // namespace strata::model
