// Sample sequences of typical Prometheus series shapes, for the chunkenc tests, benchmarks
// and fuzz seeds. Deterministic for a given seed (std::mt19937_64 and integer arithmetic
// only, so every platform generates the same samples).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "strata/model/sample.h"

namespace strata::chunkenc::testing {

enum class Shape {
  kCounter,    // monotonically increasing float, integer and fractional steps, rare resets
  kGauge,      // noisy float gauge (random walk with full-precision noise)
  kConstant,   // the same value at an exact 15 s interval (e.g. `up`, build info)
  kIntGauge,   // small integer gauge (queue length, goroutines)
  kMix,        // per-series choice among the above, weighted like a typical scrape
};

inline std::string_view ShapeName(Shape s) {
  switch (s) {
    case Shape::kCounter: return "counter";
    case Shape::kGauge: return "gauge";
    case Shape::kConstant: return "constant";
    case Shape::kIntGauge: return "int_gauge";
    case Shape::kMix: return "mix";
  }
  return "?";
}

// Uniform double in [0, 1) from the top 53 bits (portable, unlike
// std::uniform_real_distribution whose algorithm is implementation-defined).
inline double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1p-53; }

// Scrape timestamps: 15 s interval starting at `t0`; unless `exact`, half of the scrapes are
// a few milliseconds late or early as real scrapes are.
inline int64_t NextTimestamp(std::mt19937_64& rng, int64_t prev, bool exact) {
  if (exact || rng() % 2 == 0) return prev + 15000;
  return prev + 15000 + static_cast<int64_t>(rng() % 11) - 5;
}

// `n` samples of `shape`. For kMix, the shape is drawn from `seed` (40% counters, 25% noisy
// gauges, 20% constants, 15% integer gauges).
inline std::vector<model::Sample> GenerateSeries(Shape shape, uint64_t seed, int n,
                                                 int64_t t0 = 1700000000000) {
  std::mt19937_64 rng(seed);
  if (shape == Shape::kMix) {
    const uint64_t r = rng() % 100;
    shape = r < 40 ? Shape::kCounter
            : r < 65 ? Shape::kGauge
            : r < 85 ? Shape::kConstant
                     : Shape::kIntGauge;
  }
  std::vector<model::Sample> out;
  out.reserve(static_cast<size_t>(n));
  int64_t t = t0;
  double v = 0;
  switch (shape) {
    case Shape::kCounter: v = static_cast<double>(rng() % 100000); break;
    case Shape::kGauge: v = 100 * Unit(rng); break;
    case Shape::kConstant: v = static_cast<double>(rng() % 4); break;
    case Shape::kIntGauge: v = static_cast<double>(rng() % 50); break;
    case Shape::kMix: break;
  }
  const bool fractional_counter = rng() % 3 == 0;  // e.g. seconds_total counters
  for (int i = 0; i < n; ++i) {
    if (i > 0) {
      t = NextTimestamp(rng, t, shape == Shape::kConstant);
      switch (shape) {
        case Shape::kCounter:
          if (rng() % 500 == 0) {
            v = 0;  // restart
          } else if (fractional_counter) {
            v += 0.001 * static_cast<double>(rng() % 20000);
          } else {
            v += static_cast<double>(rng() % 40);
          }
          break;
        case Shape::kGauge: v += Unit(rng) - 0.5; break;
        case Shape::kConstant: break;
        case Shape::kIntGauge:
          if (rng() % 3 == 0) v = std::fmax(0, v + static_cast<double>(rng() % 7) - 3);
          break;
        case Shape::kMix: break;
      }
    }
    out.push_back({t, v});
  }
  return out;
}

}  // namespace strata::chunkenc::testing
