#include "strata/model/sample.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace strata::model {
namespace {

TEST(SampleTest, StaleNaNHasPrometheusBitPattern) {
  uint64_t bits;
  std::memcpy(&bits, &kStaleNaN, 8);
  EXPECT_EQ(bits, 0x7ff0000000000002ull);
  EXPECT_TRUE(std::isnan(kStaleNaN));
  EXPECT_TRUE(IsStaleNaN(kStaleNaN));
  // Go's math.NaN() and the C++ quiet NaN are ordinary values, not stale markers.
  EXPECT_FALSE(IsStaleNaN(std::bit_cast<double>(0x7ff8000000000001ull)));
  EXPECT_FALSE(IsStaleNaN(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(IsStaleNaN(0.0));
}

TEST(SampleTest, EqualityIsBitwise) {
  EXPECT_EQ((Sample{1, kStaleNaN}), (Sample{1, kStaleNaN}));
  EXPECT_FALSE((Sample{1, 0.0}) == (Sample{1, -0.0}));
}

}  // namespace
}  // namespace strata::model
