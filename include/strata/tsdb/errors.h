// strata::tsdb named errors that appenders return and callers branch on, as Prometheus's
// storage.ErrOutOfOrderSample, ErrOutOfBounds and ErrDuplicateSampleForTimestamp.
//
// Each error carries a payload tag (base::WithTag), so the Is* predicates never read message
// text and survive base::Annotate. Messages start with Prometheus's sentinel text.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace strata::tsdb {

// "out of order sample": t is older than the series' newest committed sample.
// Code InvalidArgument.
absl::Status OutOfOrderSampleError(std::string_view series, int64_t t);
bool IsOutOfOrderSample(const absl::Status& s);

// "out of bounds": t is older than the head's minimum valid time. Code OutOfRange.
absl::Status OutOfBoundsError(std::string_view series, int64_t t, int64_t min_valid_time);
bool IsOutOfBounds(const absl::Status& s);

// "duplicate sample for timestamp": same t as the newest sample but a different value.
// Code InvalidArgument.
absl::Status DuplicateSampleError(std::string_view series, int64_t t);
bool IsDuplicateSample(const absl::Status& s);

}  // namespace strata::tsdb
