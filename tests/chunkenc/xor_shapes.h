// Sample sequences of typical Prometheus series shapes, for the chunkenc tests, benchmarks
// and fuzz seeds. Deterministic for a given seed (std::mt19937_64 and integer arithmetic
// only, so every platform generates the same samples).
#pragma once

#include <algorithm>
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
  kMix,        // per-series choice among the realistic shapes below, weighted as real data

  // Shapes calibrated against real scraped data (Prometheus 2.42 scraping itself, node
  // exporter and VictoriaMetrics at 15 s; bench/chunkenc/real_data_stats.cc and
  // BENCHMARKS.md). All use RealTimestamps(): scrapes late by a few ms, aligned by
  // Prometheus's 2 ms timestamp tolerance when on time.
  kRealConstant,      // unchanged for the whole chunk (static info, idle resources): 77%
  kRealCounter,       // integer counter, per-series rate, idle scrapes: 6%
  kRealFloatCounter,  // seconds counter: ticks / 10^d (cpu seconds, *_sum): 2.2%
  kRealIntGauge,      // integer gauge: memory bytes in pages, small counts: 8.8%
  kRealGauge,         // float gauge with d decimals, sometimes unchanged: 6%
};

inline std::string_view ShapeName(Shape s) {
  switch (s) {
    case Shape::kCounter: return "counter";
    case Shape::kGauge: return "gauge";
    case Shape::kConstant: return "constant";
    case Shape::kIntGauge: return "int_gauge";
    case Shape::kMix: return "mix";
    case Shape::kRealConstant: return "real_constant";
    case Shape::kRealCounter: return "real_counter";
    case Shape::kRealFloatCounter: return "real_float_counter";
    case Shape::kRealIntGauge: return "real_int_gauge";
    case Shape::kRealGauge: return "real_gauge";
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

// Scrape timestamps as a Prometheus 2.42 scrape loop writes them: scrape i starts at
// t0 + 15 s * i plus a wake-up delay (0-2 ms with probability 0.6, 3-10 ms with 0.32,
// 11-40 ms with 0.08); the timestamp snaps to previous + 15 s when within its 2 ms
// tolerance (scrape.timestamp-tolerance). Fitted to the capture in BENCHMARKS.md: 46% of
// intervals exactly 15 s (real: 42%), 28% of delta-of-deltas 0 (real: 28%). Every series of
// a target shares these timestamps, so the seed is the target's.
inline std::vector<int64_t> RealTimestamps(uint64_t seed, int n, int64_t t0) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> ts;
  ts.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const uint64_t u = rng() % 100;
    const int64_t delay = u < 60   ? static_cast<int64_t>(rng() % 3)
                          : u < 92 ? 3 + static_cast<int64_t>(rng() % 8)
                                   : 11 + static_cast<int64_t>(rng() % 30);
    int64_t t = t0 + 15000 * static_cast<int64_t>(i) + delay;
    if (i > 0 && t - (ts.back() + 15000) <= 2 && (ts.back() + 15000) - t <= 2) {
      t = ts.back() + 15000;
    }
    ts.push_back(t);
  }
  return ts;
}

// Power of ten 10^d for small d, exactly.
inline double Pow10(int d) {
  double p = 1;
  for (int i = 0; i < d; ++i) p *= 10;
  return p;
}

// The calibrated shapes. Values are computed as exporters do (integer counts, ticks divided
// by a power of ten), so they have the precision of real data rather than random mantissas.
inline std::vector<model::Sample> GenerateRealSeries(Shape shape, std::mt19937_64& rng, int n,
                                                     int64_t t0) {
  const std::vector<int64_t> ts = RealTimestamps(rng() % 16, n, t0);  // 16 targets
  std::vector<model::Sample> out;
  out.reserve(static_cast<size_t>(n));
  // Probability (in %) that a scrape sees no change, per series: idle resources.
  const uint64_t idle = rng() % 60;
  switch (shape) {
    case Shape::kRealConstant: {
      // 0/1 flags and enum-like values, or a static size / info value.
      const uint64_t r = rng() % 4;
      const double v = r == 0   ? 0
                       : r == 1 ? 1
                       : r == 2 ? static_cast<double>(rng() % 100)
                                : static_cast<double>(rng() % (uint64_t{1} << 40));
      for (int i = 0; i < n; ++i) out.push_back({ts[static_cast<size_t>(i)], v});
      break;
    }
    case Shape::kRealCounter: {
      // Per-scrape rate log-uniform in 1 .. 10^5 (requests .. bytes).
      const uint64_t rate = uint64_t{1} << (rng() % 17);
      uint64_t c = rng() % (rate * 10000 + 1);
      for (int i = 0; i < n; ++i) {
        if (i > 0 && rng() % 100 >= idle) c += 1 + rng() % (2 * rate);
        out.push_back({ts[static_cast<size_t>(i)], static_cast<double>(c)});
      }
      break;
    }
    case Shape::kRealFloatCounter: {
      // Ticks of 10 ms (cpu seconds), 1 ms (disk time) or 1 us / 1 ns (*_sum of durations).
      static const int kDecimals[] = {2, 3, 6, 9};
      const int d = kDecimals[rng() % 4];
      const double scale = Pow10(d);
      const uint64_t rate = 1 + rng() % static_cast<uint64_t>(scale);  // <= 1 s per scrape
      uint64_t ticks = rng() % (rate * 100000 + 1);
      for (int i = 0; i < n; ++i) {
        if (i > 0 && rng() % 100 >= idle) ticks += 1 + rng() % (2 * rate);
        out.push_back({ts[static_cast<size_t>(i)], static_cast<double>(ticks) / scale});
      }
      break;
    }
    case Shape::kRealIntGauge: {
      const bool bytes = rng() % 2 == 0;  // memory/disk bytes in 4 KiB pages, or counts
      int64_t g = bytes ? static_cast<int64_t>(rng() % (uint64_t{1} << 22)) * 4096
                        : static_cast<int64_t>(rng() % 2000);
      for (int i = 0; i < n; ++i) {
        if (i > 0 && rng() % 100 >= idle) {
          const int64_t step = static_cast<int64_t>(rng() % 21) - 10;
          g = std::max<int64_t>(0, g + (bytes ? step * 4096 * static_cast<int64_t>(1 + rng() % 64)
                                              : step));
        }
        out.push_back({ts[static_cast<size_t>(i)], static_cast<double>(g)});
      }
      break;
    }
    default: {  // kRealGauge
      // d decimals (load averages 2, durations 6-9), or a computed ratio at full precision.
      static const int kDecimals[] = {2, 3, 6, 9, -1};
      const int d = kDecimals[rng() % 5];
      const double scale = d < 0 ? 1 : Pow10(d);
      int64_t g = static_cast<int64_t>(rng() % 100000);
      for (int i = 0; i < n; ++i) {
        if (i > 0 && rng() % 100 >= idle) {
          g = std::max<int64_t>(0, g + static_cast<int64_t>(rng() % 2001) - 1000);
        }
        const double v = d < 0 ? static_cast<double>(g) / 99991.0 : static_cast<double>(g) / scale;
        out.push_back({ts[static_cast<size_t>(i)], v});
      }
      break;
    }
  }
  return out;
}

// `n` samples of `shape`. For kMix, the shape is drawn from `seed` with the weights of the
// real capture (series shares in BENCHMARKS.md): 77% kRealConstant, 6% kRealCounter,
// 2.2% kRealFloatCounter, 8.8% kRealIntGauge, 6% kRealGauge.
inline std::vector<model::Sample> GenerateSeries(Shape shape, uint64_t seed, int n,
                                                 int64_t t0 = 1700000000000) {
  std::mt19937_64 rng(seed);
  if (shape == Shape::kMix) {
    const uint64_t r = rng() % 1000;
    shape = r < 770   ? Shape::kRealConstant
            : r < 830 ? Shape::kRealCounter
            : r < 852 ? Shape::kRealFloatCounter
            : r < 940 ? Shape::kRealIntGauge
                      : Shape::kRealGauge;
  }
  if (shape >= Shape::kRealConstant) return GenerateRealSeries(shape, rng, n, t0);
  std::vector<model::Sample> out;
  out.reserve(static_cast<size_t>(n));
  int64_t t = t0;
  double v = 0;
  switch (shape) {
    case Shape::kCounter: v = static_cast<double>(rng() % 100000); break;
    case Shape::kGauge: v = 100 * Unit(rng); break;
    case Shape::kConstant: v = static_cast<double>(rng() % 4); break;
    case Shape::kIntGauge: v = static_cast<double>(rng() % 50); break;
    default: break;
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
        default: break;
      }
    }
    out.push_back({t, v});
  }
  return out;
}

}  // namespace strata::chunkenc::testing
