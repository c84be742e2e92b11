#include "strata/index/postings_for_matchers.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "strata/index/mem_postings.h"
#include "testing/status_matchers.h"

namespace strata::index {
namespace {

using model::Labels;
using model::Matcher;
using model::MatchType;

Matcher M(MatchType t, std::string_view n, std::string_view v) {
  auto m = Matcher::Create(t, n, v);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}
Matcher Eq(std::string_view n, std::string_view v) { return M(MatchType::kEqual, n, v); }
Matcher Ne(std::string_view n, std::string_view v) { return M(MatchType::kNotEqual, n, v); }
Matcher Re(std::string_view n, std::string_view v) { return M(MatchType::kRegexMatch, n, v); }
Matcher Nre(std::string_view n, std::string_view v) {
  return M(MatchType::kRegexNoMatch, n, v);
}

std::vector<SeriesRef> Resolve(const MemPostings& mp, const std::vector<Matcher>& ms) {
  auto r = NewMemPostingsReader(mp);
  auto p = PostingsForMatchers(*r, ms);
  EXPECT_TRUE(p.ok()) << p.status();
  std::vector<SeriesRef> out;
  EXPECT_TRUE(ExpandPostings(**p, &out).ok());
  return out;
}

// The series and cases of upstream's TestPostingsForMatchers (tsdb/querier_test.go, 2.42).
// Refs: 1 {n="1"}, 2 {n="1",i="a"}, 3 {n="1",i="b"}, 4 {n="2"}, 5 {n="2.5"}.
TEST(PostingsForMatchersTest, UpstreamTable) {
  MemPostings mp;
  mp.Add(1, Labels{{"n", "1"}});
  mp.Add(2, Labels{{"n", "1"}, {"i", "a"}});
  mp.Add(3, Labels{{"n", "1"}, {"i", "b"}});
  mp.Add(4, Labels{{"n", "2"}});
  mp.Add(5, Labels{{"n", "2.5"}});

  struct Case {
    std::vector<Matcher> ms;
    std::vector<SeriesRef> want;
  };
  const std::vector<Case> cases = {
      // Simple equals.
      {{Eq("n", "1")}, {1, 2, 3}},
      {{Eq("n", "1"), Eq("i", "a")}, {2}},
      {{Eq("n", "1"), Eq("i", "missing")}, {}},
      {{Eq("missing", "")}, {1, 2, 3, 4, 5}},
      // Not equals.
      {{Ne("n", "1")}, {4, 5}},
      {{Ne("i", "")}, {2, 3}},
      {{Ne("missing", "")}, {}},
      {{Eq("n", "1"), Ne("i", "a")}, {1, 3}},
      {{Eq("n", "1"), Ne("i", "")}, {2, 3}},
      // Regex.
      {{Re("n", "^1$")}, {1, 2, 3}},
      {{Eq("n", "1"), Re("i", "^a$")}, {2}},
      {{Eq("n", "1"), Re("i", "^a?$")}, {1, 2}},
      {{Re("i", "^$")}, {1, 4, 5}},
      {{Eq("n", "1"), Re("i", "^$")}, {1}},
      {{Eq("n", "1"), Re("i", "^.*$")}, {1, 2, 3}},
      {{Eq("n", "1"), Re("i", "^.+$")}, {2, 3}},
      // Not regex.
      {{Nre("n", "^1$")}, {4, 5}},
      {{Eq("n", "1"), Nre("i", "^a$")}, {1, 3}},
      {{Eq("n", "1"), Nre("i", "^a?$")}, {3}},
      {{Eq("n", "1"), Nre("i", "^$")}, {2, 3}},
      {{Eq("n", "1"), Nre("i", "^.*$")}, {}},
      {{Eq("n", "1"), Nre("i", "^.+$")}, {1}},
      // Combinations.
      {{Eq("n", "1"), Ne("i", ""), Eq("i", "a")}, {2}},
      {{Eq("n", "1"), Ne("i", "b"), Re("i", "^(b|a).*$")}, {2}},
      // Set optimisation for regex.
      {{Re("n", "1|2")}, {1, 2, 3, 4}},
      {{Re("i", "a|b")}, {2, 3}},
      {{Re("n", "x1|2")}, {4}},
      {{Re("n", "2|2\\.5")}, {4, 5}},
      // Empty value in a set.
      {{Re("i", "c||d")}, {1, 4, 5}},
      // Patterns matching everything, or everything set.
      {{Re("n", ".*")}, {1, 2, 3, 4, 5}},
      {{Re("i", ".*")}, {1, 2, 3, 4, 5}},
      {{Nre("i", ".+")}, {1, 4, 5}},
      {{Nre("i", ".*")}, {}},
      {{Re("i", ".+")}, {2, 3}},
      // Prefix regexes.
      {{Re("n", "2.*")}, {4, 5}},
      {{Nre("n", "2.*")}, {1, 2, 3}},
      // Only subtracting matchers on several names.
      {{Ne("n", "2"), Ne("i", "a")}, {1, 3, 5}},
  };
  for (const Case& c : cases) {
    std::string desc;
    for (const auto& m : c.ms) desc += m.ToString() + " ";
    EXPECT_EQ(Resolve(mp, c.ms), c.want) << desc;
  }
}

TEST(PostingsForMatchersTest, NoMatchersSelectNothing) {
  MemPostings mp;
  mp.Add(1, Labels{{"n", "1"}});
  EXPECT_TRUE(Resolve(mp, {}).empty());
}

// Property: the result equals brute-force filtering with Matcher::Matches.
TEST(PostingsForMatchersTest, AgreesWithBruteForce) {
  const uint64_t seed = 1234567;
  std::mt19937_64 rng(seed);
  const std::vector<std::string> names = {"a", "b", "c"};
  const std::vector<std::string> values = {"x", "y", "xy", "yz", "z"};
  MemPostings mp;
  std::vector<Labels> series;
  for (SeriesRef ref = 1; ref <= 200; ++ref) {
    std::vector<std::pair<std::string_view, std::string_view>> pairs;
    for (const auto& n : names) {
      if (rng() % 3 == 0) continue;
      pairs.push_back({n, values[rng() % values.size()]});
    }
    Labels l = Labels::FromPairs(pairs);
    mp.Add(ref, l);
    series.push_back(l);
  }
  const std::vector<std::string> patterns = {"", "x", "x.*", ".*", ".+", "x|y", "y|", "z?"};
  for (int round = 0; round < 400; ++round) {
    std::vector<Matcher> ms;
    const int k = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < k; ++i) {
      const auto t = static_cast<MatchType>(rng() % 4);
      const std::string& n = names[rng() % names.size()];
      const std::string& v = (t == MatchType::kEqual || t == MatchType::kNotEqual)
                                 ? (rng() % 4 == 0 ? std::string() : values[rng() % values.size()])
                                 : patterns[rng() % patterns.size()];
      ms.push_back(M(t, n, v));
    }
    std::vector<SeriesRef> want;
    for (size_t i = 0; i < series.size(); ++i) {
      if (model::MatchesAll(ms, series[i])) want.push_back(i + 1);
    }
    std::string desc;
    for (const auto& m : ms) desc += m.ToString() + " ";
    ASSERT_EQ(Resolve(mp, ms), want) << "seed " << seed << " round " << round << ": " << desc;
  }
}

TEST(MemPostingsTest, KeepsListsSortedAndDeletes) {
  MemPostings mp;
  mp.Add(5, Labels{{"job", "a"}});
  mp.Add(2, Labels{{"job", "a"}, {"x", "1"}});
  mp.Add(9, Labels{{"job", "b"}, {"x", "1"}});
  mp.Add(7, Labels{{"job", "a"}});
  std::vector<SeriesRef> got;
  ASSERT_TRUE(ExpandPostings(*mp.Get("job", "a"), &got).ok());
  EXPECT_EQ(got, (std::vector<SeriesRef>{2, 5, 7}));
  got.clear();
  ASSERT_TRUE(ExpandPostings(*mp.All(), &got).ok());
  EXPECT_EQ(got, (std::vector<SeriesRef>{2, 5, 7, 9}));
  EXPECT_EQ(mp.LabelNames(), (std::vector<std::string>{"job", "x"}));
  EXPECT_EQ(mp.LabelValues("job"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(mp.NumSeries(), 4u);

  const std::vector<std::pair<SeriesRef, Labels>> del = {{9, Labels{{"job", "b"}, {"x", "1"}}},
                                                         {5, Labels{{"job", "a"}}}};
  mp.Delete(del);
  got.clear();
  ASSERT_TRUE(ExpandPostings(*mp.All(), &got).ok());
  EXPECT_EQ(got, (std::vector<SeriesRef>{2, 7}));
  EXPECT_EQ(mp.LabelValues("job"), (std::vector<std::string>{"a"}));
  got.clear();
  ASSERT_TRUE(ExpandPostings(*mp.Get("x", "1"), &got).ok());
  EXPECT_EQ(got, (std::vector<SeriesRef>{2}));
  EXPECT_TRUE(IsEmptyPostings(*mp.Get("job", "b")));
}

TEST(MemPostingsTest, ConcurrentAddsAndReads) {
  MemPostings mp;
  constexpr int kThreads = 4, kPer = 2000;
  std::vector<std::thread> ts;
  for (int w = 0; w < kThreads; ++w) {
    ts.emplace_back([&mp, w] {
      for (int i = 0; i < kPer; ++i) {
        const SeriesRef ref = static_cast<SeriesRef>(i * kThreads + w + 1);
        mp.Add(ref, Labels{{"w", std::to_string(w)}, {"m", std::to_string(i % 10)}});
      }
    });
  }
  std::thread reader([&mp] {
    for (int i = 0; i < 200; ++i) {
      std::vector<SeriesRef> got;
      ASSERT_TRUE(ExpandPostings(*mp.Get("m", "3"), &got).ok());
      ASSERT_TRUE(std::is_sorted(got.begin(), got.end()));
    }
  });
  for (auto& t : ts) t.join();
  reader.join();
  EXPECT_EQ(mp.NumSeries(), static_cast<size_t>(kThreads * kPer));
  std::vector<SeriesRef> got;
  ASSERT_TRUE(ExpandPostings(*mp.Get("w", "2"), &got).ok());
  ASSERT_EQ(got.size(), static_cast<size_t>(kPer));
  for (int i = 0; i < kPer; ++i) EXPECT_EQ(got[i], static_cast<SeriesRef>(i * kThreads + 3));
}

}  // namespace
}  // namespace strata::index
