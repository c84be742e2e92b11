#include "strata/model/matcher.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace strata::model {
namespace {

Matcher M(MatchType t, std::string_view n, std::string_view v, MatcherOptions o = {}) {
  auto m = Matcher::Create(t, n, v, o);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

TEST(MatcherTest, EqualityMatchersAndMissingLabels) {
  Labels with{{"__name__", "up"}, {"job", "a"}}, without{{"__name__", "up"}};
  EXPECT_TRUE(M(MatchType::kEqual, "job", "a").Matches(with));
  EXPECT_FALSE(M(MatchType::kEqual, "job", "a").Matches(without));
  // job="" and job=~"" match a missing label; job!="" selects series that have it.
  EXPECT_TRUE(M(MatchType::kEqual, "job", "").Matches(without));
  EXPECT_FALSE(M(MatchType::kEqual, "job", "").Matches(with));
  EXPECT_TRUE(M(MatchType::kRegexMatch, "job", "").Matches(without));
  EXPECT_TRUE(M(MatchType::kNotEqual, "job", "").Matches(with));
  EXPECT_FALSE(M(MatchType::kNotEqual, "job", "").Matches(without));
  EXPECT_FALSE(M(MatchType::kRegexNoMatch, "job", "").Matches(without));
  EXPECT_TRUE(M(MatchType::kRegexNoMatch, "job", "b.*").Matches(without));
}

TEST(MatcherTest, RegexIsFullyAnchored) {
  Matcher m = M(MatchType::kRegexMatch, "job", "api|web");
  EXPECT_TRUE(m.Matches("api"));
  EXPECT_TRUE(m.Matches("web"));
  EXPECT_FALSE(m.Matches("apix"));
  EXPECT_FALSE(m.Matches("xweb"));
  ASSERT_TRUE(m.SetMatches().has_value());
  EXPECT_EQ(*m.SetMatches(), (std::vector<std::string>{"api", "web"}));

  Matcher p = M(MatchType::kRegexMatch, "job", "foo.*");
  EXPECT_FALSE(p.SetMatches().has_value());
  EXPECT_EQ(p.Prefix(), "foo");
  EXPECT_TRUE(p.Matches("foobar"));
  EXPECT_FALSE(p.Matches("xfoobar"));
  EXPECT_EQ(M(MatchType::kRegexMatch, "a", "fo?x").Prefix(), "f");
  EXPECT_TRUE(M(MatchType::kRegexMatch, "a", "fo?x").Matches("fx"));
  EXPECT_TRUE(M(MatchType::kRegexMatch, "a", "a\\.b").Matches("a.b"));
  EXPECT_FALSE(M(MatchType::kRegexMatch, "a", "a\\.b").Matches("axb"));
  EXPECT_TRUE(M(MatchType::kRegexMatch, "a", "(?i)FOO").Matches("foo"));
}

TEST(MatcherTest, DotMatchesNewlineOnlyIn3xMode) {
  EXPECT_TRUE(M(MatchType::kRegexMatch, "a", "x.y").Matches("x\ny"));
  EXPECT_FALSE(M(MatchType::kRegexMatch, "a", "x.y", {.dot_matches_newline = false})
                   .Matches("x\ny"));
}

TEST(MatcherTest, InvalidRegexIsClearError) {
  EXPECT_THAT(Matcher::Create(MatchType::kRegexMatch, "a", "(unclosed"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("invalid regular expression \"(unclosed\"")));
}

TEST(MatcherTest, ToStringAndMatchesEmpty) {
  EXPECT_EQ(M(MatchType::kRegexNoMatch, "job", "a\"b").ToString(), R"(job!~"a\"b")");
  EXPECT_TRUE(M(MatchType::kRegexMatch, "job", "a|").MatchesEmpty());
  EXPECT_FALSE(M(MatchType::kRegexMatch, "job", "a+").MatchesEmpty());
}

}  // namespace
}  // namespace strata::model
