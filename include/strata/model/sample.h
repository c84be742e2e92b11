// strata::model samples: int64 millisecond timestamps, float64 values, series references and
// the Prometheus staleness marker.
#pragma once

#include <bit>
#include <cstdint>

namespace strata::model {

// Reference to a series within one source (head series id, or index offset/16 in a block).
using SeriesRef = uint64_t;

struct Sample {
  int64_t t = 0;  // milliseconds since the Unix epoch
  double v = 0;
  friend bool operator==(const Sample& a, const Sample& b) {
    return a.t == b.t && std::bit_cast<uint64_t>(a.v) == std::bit_cast<uint64_t>(b.v);
  }
};

// The staleness marker: a NaN with this exact bit pattern (Prometheus value.StaleNaN).
// Other NaNs, such as Go's math.NaN() 0x7ff8000000000001, are ordinary values.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
inline constexpr double kStaleNaN = std::bit_cast<double>(kStaleNaNBits);

inline bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

}  // namespace strata::model
