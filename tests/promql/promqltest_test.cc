// The test-script runner: passing, failing and skipped evals are counted and reported with
// their line.
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/model/labels.h"
#include "strata/model/matcher.h"
#include "strata/promql/promqltest.h"
#include "strata/storage/series.h"
#include "testing/status_matchers.h"

namespace strata::promql::promqltest {
namespace {

using ::testing::HasSubstr;

TEST(PromqlTestRunnerTest, CountsPassFailAndSkip) {
  const std::string script = R"(
load 1m
  m{a="1"} 0+10x10

# passes
eval instant at 5m m
  m{a="1"} 50

# fails: wrong value
eval instant at 5m m
  m{a="1"} 51

clear

load 1m
  h {{schema:0 sum:1 count:1}}

# skipped: native histogram data loaded
eval instant at 5m h

clear

load 1m
  m{a="1"} 0+10x10

eval range from 0 to 2m step 1m m * 2
  {a="1"} 0 20 40

eval instant at 0 m / on() group_left vector(0)
  expect fail
)";
  STRATA_ASSERT_OK_AND_ASSIGN(FileResult r, RunTestScript(script, "t.test"));
  EXPECT_EQ(r.passed, 2);
  EXPECT_EQ(r.failed, 2);
  EXPECT_EQ(r.skipped, 1);
  ASSERT_EQ(r.evals.size(), 5u);
  EXPECT_EQ(r.evals[1].line, 10);
  EXPECT_THAT(r.evals[1].message, HasSubstr("expected 51"));
  // The last eval was expected to fail but succeeds.
  EXPECT_EQ(r.evals[4].outcome, EvalResult::Outcome::kFailed);
}

TEST(PromqlTestRunnerTest, RejectsMalformedScripts) {
  auto r = RunTestScript("bogus command\n", "x.test");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("x.test:1"));
  auto d = RunTestScript("load 1q\n  m 1\n", "y.test");
  EXPECT_FALSE(d.ok());
}

TEST(PromqlTestRunnerTest, AtModifierVariantsMustAgree) {
  // timestamp() is time dependent: runs without the @ variants, so this passes.
  const std::string script = R"(
load 1m
  m 1 2 3

eval instant at 2m timestamp(m)
  {} 120
)";
  STRATA_ASSERT_OK_AND_ASSIGN(FileResult r, RunTestScript(script, "t.test"));
  EXPECT_EQ(r.passed, 1) << (r.evals.empty() ? "" : r.evals[0].message);
}

TEST(PromqlTestRunnerTest, StartTimestampLinesReachTheEngine) {
  // The same flat series as an OTel delta stream (ST = previous T, written as the offset
  // -1m) and without start timestamps: only the former increases. The stepped form
  // `-30s-1mx2` gives starts 1m30s for the samples at 2m, 3m, 4m (a cumulative stream).
  const std::string script = R"(
load 1m
    d_total{type="delta"}@st  _ _ -1mx4
    d_total{type="delta"}     _ _ 60x4
    d_total{type="plain"}     _ _ 60x4
    c_total@st                _ _ -30s-1mx2
    c_total                   _ _ 1 2 3

eval instant at 6m increase(d_total[4m])
    {type="delta"} 240
    {type="plain"} 0

eval instant at 4m increase(c_total[3m])
    {} 3
)";
  STRATA_ASSERT_OK_AND_ASSIGN(FileResult r, RunTestScript(script, "st.test"));
  EXPECT_EQ(r.failed, 0) << (r.evals.empty() ? "" : r.evals[0].message + "; " +
                             (r.evals.size() > 1 ? r.evals[1].message : ""));
  EXPECT_EQ(r.passed, 2);
}

TEST(PromqlTestRunnerTest, StoresStartTimestampsInMemStorage) {
  MemStorage db;
  const model::Labels lset({{"__name__", "m"}});
  db.AddSeries(lset, {{1000, 1}, {2000, 2}}, {500, storage::kNoStartTimestamp});
  db.Add(lset, 1500, 1.5, 1200);  // inserted between, keeps the others' starts
  db.Add(model::Labels({{"__name__", "plain"}}), 1000, 1);
  STRATA_ASSERT_OK_AND_ASSIGN(auto q, db.NewQuerier(0, 10'000));
  STRATA_ASSERT_OK_AND_ASSIGN(
      model::Matcher any, model::Matcher::Create(model::MatchType::kRegexMatch, "__name__", ".+"));
  auto set = q->Select({any}, nullptr);
  std::vector<std::pair<int64_t, int64_t>> got;  // (t, st)
  while (set->Next()) {
    auto it = set->At().Iterator();
    while (it->Next()) got.emplace_back(it->At().t, it->AtST());
  }
  EXPECT_THAT(got, ::testing::ElementsAre(std::pair<int64_t, int64_t>{1000, 500},
                                          std::pair<int64_t, int64_t>{1500, 1200},
                                          std::pair<int64_t, int64_t>{2000, 0},
                                          std::pair<int64_t, int64_t>{1000, 0}));
}

TEST(PromqlTestRunnerTest, RejectsMalformedStartTimestampLines) {
  auto expect_error = [](const std::string& load, const std::string& what) {
    auto r = RunTestScript("load 1m\n" + load + "\n", "st.test");
    ASSERT_FALSE(r.ok()) << load;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(what)) << load;
  };
  // Not followed by its series, or followed by another one.
  expect_error("  m@st 0 -1m", "st.test:2: start timestamps line is not followed");
  expect_error("  m@st 0 -1m\n  n 1 2", "st.test:2: start timestamps of");
  expect_error("  m@st 0\n  n@st 0\n  m 1", "st.test:2: start timestamps line is not followed");
  // Position counts must agree (`-1mx2` is three positions, `_x2` two).
  expect_error("  m@st -1mx2\n  m 1 2", "series has 2 positions but its start timestamps line has 3");
  expect_error("  m@st _x2 0\n  m 1 2", "series has 2 positions but its start timestamps line has 3");
  // Bad items.
  expect_error("  m@st 1q\n  m 1", "bad start timestamp item \"1q\"");
  expect_error("  m@st 1m+1m\n  m 1", "a stepped item needs xN");
  expect_error("  m@st 1mxa\n  m 1", "repetition count is not a number");
  expect_error("  m@st 200000000y+200000000yx2\n  m 1 1 1", "offset overflows");
  expect_error("  m@st _ 9223372036854775000ms\n  m 1 1", "st.test:2: start timestamp overflows");
}

}  // namespace
}  // namespace strata::promql::promqltest
