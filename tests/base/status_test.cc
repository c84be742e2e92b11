#include "strata/base/status.h"

#include <gtest/gtest.h>

#include "base/status_macros.h"

namespace strata::base {
namespace {

TEST(StatusTest, AnnotateKeepsCodeAndPayload) {
  absl::Status s = WithTag(absl::DataLossError("crc mismatch at offset 12"), "strata/test");
  absl::Status a = Annotate(s, "index /d/x/index");
  EXPECT_EQ(a.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(a.message(), "index /d/x/index: crc mismatch at offset 12");
  EXPECT_TRUE(HasTag(a, "strata/test"));
  EXPECT_FALSE(HasTag(absl::DataLossError("x"), "strata/test"));
  EXPECT_TRUE(Annotate(absl::OkStatus(), "ctx").ok());
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  STRATA_ASSIGN_OR_RETURN(int h, Half(x));
  STRATA_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace strata::base
