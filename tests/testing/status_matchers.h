// GoogleTest helpers for absl::Status / StatusOr.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strata::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace strata::testing

#define STRATA_EXPECT_OK(expr)                                              \
  do {                                                                      \
    const ::absl::Status strata_s_ = ::strata::testing::GetStatus(expr);             \
    EXPECT_TRUE(strata_s_.ok()) << strata_s_.ToString();                    \
  } while (false)

#define STRATA_ASSERT_OK(expr)                                              \
  do {                                                                      \
    const ::absl::Status strata_s_ = ::strata::testing::GetStatus(expr);             \
    ASSERT_TRUE(strata_s_.ok()) << strata_s_.ToString();                    \
  } while (false)

// STRATA_ASSERT_OK_AND_ASSIGN(auto x, MakeX());
#define STRATA_ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                        \
  STRATA_ASSERT_OK_AND_ASSIGN_IMPL_(STRATA_TESTING_CONCAT_(strata_sor_, __LINE__), lhs, \
                                    rexpr)
#define STRATA_TESTING_CONCAT_INNER_(a, b) a##b
#define STRATA_TESTING_CONCAT_(a, b) STRATA_TESTING_CONCAT_INNER_(a, b)
#define STRATA_ASSERT_OK_AND_ASSIGN_IMPL_(sor, lhs, rexpr) \
  auto sor = (rexpr);                                      \
  ASSERT_TRUE(sor.ok()) << sor.status().ToString();        \
  lhs = std::move(sor).value()

// EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("offset 12")));
MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status s = ::strata::testing::GetStatus(arg);
  if (s.code() != code) {
    *result_listener << "code is " << absl::StatusCodeToString(s.code()) << ": " << s.ToString();
    return false;
  }
  return ::testing::ExplainMatchResult(message_matcher, std::string(s.message()),
                                       result_listener);
}
