// The test-script runner: passing, failing and skipped evals are counted and reported with
// their line.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/promql/promqltest.h"
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

}  // namespace
}  // namespace strata::promql::promqltest
