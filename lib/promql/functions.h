// Internal: the numeric kernels of PromQL's functions and aggregations (Prometheus
// promql/functions.go, promql/quantile.go), shared by the evaluator (engine.cc).
//
// Every kernel is a pure function of its inputs; annotations are reported through flags the
// caller turns into messages (the caller knows the metric name and the query position).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "strata/promql/value.h"

namespace strata::promql::internal {

// String concatenation accepting std::string_view (Debian's absl::StrCat takes only
// absl::string_view, which is a distinct type there).
inline void CatOne(std::string& s, std::string_view v) { s.append(v.data(), v.size()); }
inline void CatOne(std::string& s, const char* v) { s.append(v); }
inline void CatOne(std::string& s, const std::string& v) { s.append(v); }
inline void CatOne(std::string& s, char c) { s.push_back(c); }
inline void CatOne(std::string& s, absl::string_view v) { s.append(v.data(), v.size()); }
template <typename T>
  requires std::is_arithmetic_v<T>
inline void CatOne(std::string& s, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    s.append(absl::StrCat(v));
  } else {
    s.append(std::to_string(v));
  }
}
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string s;
  (CatOne(s, args), ...);
  return s;
}

// Kahan-Babuska-Neumaier summation step (upstream kahanSumInc): adds inc to sum with the
// running compensation c. The result is sum + c.
inline void KahanAdd(double inc, double& sum, double& c) {
  const double t = sum + inc;
  if (std::isinf(t)) {
    c = 0;  // the compensation would turn into NaN
  } else if (std::abs(sum) >= std::abs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  sum = t;
}

// What a range function sees at one evaluation step.
struct RangeArgs {
  std::span<const Point> points;  // the samples inside the window, oldest first, no stale
  // Start timestamps (ms) of `points`, index for index, 0 where unknown; empty when none
  // are known (subquery results, sources without them, 2.x mode). Only the counter
  // functions read them (rate, increase, irate, resets).
  std::span<const int64_t> sts;
  int64_t range_start = 0;        // window bounds (ms) after offset/@: (start, end]
  int64_t range_end = 0;
  int64_t range_ms = 0;  // the selector's range
  int64_t ts = 0;        // evaluation time (ms), for predict_linear's intercept
  double s0 = 0;         // scalar arguments (quantile, predict_linear's t, smoothing factors)
  double s1 = 0;
  bool compat_2x = false;
};

// Start-timestamp counter reset (upstream isStartTimestampReset): whether the sample
// (cur_st, cur_t) starts a new accumulation after the sample (prev_st, prev_t). Unknown
// (0) or invalid (>= its own timestamp) start timestamps never signal a reset; a start
// after the previous sample does; a start equal to the previous sample's timestamp does
// only if that sample had a valid start of its own (an OTel delta stream, not a cumulative
// stream whose first point has an unknown start, written ST == T).
bool IsStartTimestampReset(int64_t prev_st, int64_t prev_t, int64_t cur_st, int64_t cur_t);
// Whether cur's start timestamp overlaps the previous sample (upstream
// checkStartTimeOverlap): it lies before prev_t yet differs from prev's start, so two
// accumulations cover the same time.
bool IsStartTimestampOverlap(int64_t prev_st, int64_t prev_t, int64_t cur_st);

// rate/increase/delta with upstream extrapolation. nullopt for fewer than two samples,
// except that a counter whose first sample has a start timestamp inside the window counts
// from zero at that start (one sample then suffices; no extrapolation to the left). For
// counters, resets are also detected from start timestamps, and *st_overlap (if given) is
// set when start timestamps overlap.
std::optional<double> ExtrapolatedRate(const RangeArgs& a, bool is_counter, bool is_rate,
                                       bool* st_overlap = nullptr);
// irate/idelta from the last two samples (irate also sees start-timestamp resets).
std::optional<double> InstantValue(const RangeArgs& a, bool is_rate);
// deriv and predict_linear (least squares with the intercept at ts).
std::optional<double> Deriv(const RangeArgs& a);
std::optional<double> PredictLinear(const RangeArgs& a);
// Counter resets: value drops and start-timestamp resets.
std::optional<double> Resets(const RangeArgs& a);
std::optional<double> Changes(const RangeArgs& a);
// double_exponential_smoothing / holt_winters with smoothing factor s0 and trend factor
// s1. Returns nullopt with fewer than two samples; the caller validates the factors.
std::optional<double> DoubleExponentialSmoothing(const RangeArgs& a);

// Aggregate kernels over plain values.
double AvgKahan(std::span<const Point> pts);
double SumKahan(std::span<const Point> pts);
double StdvarOf(std::span<const Point> pts);
double MadOf(std::span<const Point> pts);
// Upstream quantile(): linear interpolation between closest ranks; q < 0 -> -Inf,
// q > 1 -> +Inf, NaN q -> NaN. Sorts `values` in place.
double Quantile(double q, std::vector<double>& values);

// One classic histogram bucket.
struct Bucket {
  double upper_bound;
  double count;
};
// Upstream BucketQuantile. `forced_monotonic` is set when counts had to be fixed.
double BucketQuantile(double q, std::vector<Bucket>& buckets, bool* forced_monotonic,
                      bool compat_2x);
// Upstream BucketFraction (classic buckets): the estimated fraction of observations
// between lower and upper.
double BucketFraction(double lower, double upper, std::vector<Bucket>& buckets);

// Go's strconv.FormatFloat(v, 'f', -1, 64) ("+Inf", "-Inf", "NaN" for the specials).
std::string FormatFloatGo(double v);
// Go's strconv.ParseFloat(s, 64): accepts decimal, exponent, hex floats, Inf/NaN words.
// Returns false if s is not a number.
bool ParseFloatGo(std::string_view s, double* out);

// Date fields of Unix time `sec` in UTC as Go's time package computes them.
struct DateFields {
  int year, month, day, weekday, yday, days_in_month, hour, minute;
};
DateFields DateOf(int64_t sec);

}  // namespace strata::promql::internal
