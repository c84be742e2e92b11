// Compiled with only include/ on the include path: every public header must stand alone and
// need nothing from lib/ or from RE2, zstd, xxHash or fmt.
#include <gtest/gtest.h>

#include "strata/base/status.h"
#include "strata/model/labels.h"
#include "strata/model/matcher.h"
#include "strata/model/sample.h"
#include "strata/storage/querier.h"
#include "strata/storage/series.h"

namespace {

TEST(PublicApiTest, LabelsAndMatchersWorkThroughPublicHeaders) {
  strata::model::Labels l{{"__name__", "up"}, {"job", "api"}};
  auto m = strata::model::Matcher::Create(strata::model::MatchType::kRegexMatch, "job", "a.*");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->Matches(l));
  EXPECT_TRUE(strata::model::IsStaleNaN(strata::model::kStaleNaN));
}

}  // namespace
