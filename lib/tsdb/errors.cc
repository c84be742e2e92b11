#include "strata/tsdb/errors.h"

#include "absl/strings/str_cat.h"
#include "strata/base/status.h"

namespace strata::tsdb {

namespace {
constexpr std::string_view kOutOfOrderTag = "strata.tsdb/out_of_order_sample";
constexpr std::string_view kOutOfBoundsTag = "strata.tsdb/out_of_bounds";
constexpr std::string_view kDuplicateTag = "strata.tsdb/duplicate_sample_for_timestamp";
}  // namespace

absl::Status OutOfOrderSampleError(std::string_view series, int64_t t) {
  return base::WithTag(absl::InvalidArgumentError(absl::StrCat(
                           "out of order sample: series ", base::ToAbsl(series), " t=", t)),
                       kOutOfOrderTag);
}
bool IsOutOfOrderSample(const absl::Status& s) { return base::HasTag(s, kOutOfOrderTag); }

absl::Status OutOfBoundsError(std::string_view series, int64_t t, int64_t min_valid_time) {
  return base::WithTag(
      absl::OutOfRangeError(absl::StrCat("out of bounds: series ", base::ToAbsl(series),
                                         " t=", t, " is before the head's minimum valid time ",
                                         min_valid_time)),
      kOutOfBoundsTag);
}
bool IsOutOfBounds(const absl::Status& s) { return base::HasTag(s, kOutOfBoundsTag); }

absl::Status DuplicateSampleError(std::string_view series, int64_t t) {
  return base::WithTag(
      absl::InvalidArgumentError(absl::StrCat("duplicate sample for timestamp: series ",
                                              base::ToAbsl(series), " t=", t)),
      kDuplicateTag);
}
bool IsDuplicateSample(const absl::Status& s) { return base::HasTag(s, kDuplicateTag); }

}  // namespace strata::tsdb
