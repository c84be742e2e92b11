// Numeric kernels of PromQL functions, following Prometheus promql/functions.go and
// promql/quantile.go (3.x main; differences for 2.x noted where the result can differ).
#include "promql/functions.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace strata::promql::internal {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Regression {
  double slope;
  double intercept;
};

// Least squares with x measured in seconds from intercept_time, as upstream's
// linearRegression (Kahan sums; a constant series has slope 0 exactly).
Regression LinearRegression(std::span<const Point> pts, int64_t intercept_time) {
  double n = 0, sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0,
         c_x2 = 0;
  const double init_y = pts[0].v;
  bool const_y = true;
  for (size_t i = 0; i < pts.size(); ++i) {
    const Point& p = pts[i];
    if (const_y && i > 0 && p.v != init_y) const_y = false;
    n += 1;
    const double x = static_cast<double>(p.t - intercept_time) / 1e3;
    KahanAdd(x, sum_x, c_x);
    KahanAdd(p.v, sum_y, c_y);
    KahanAdd(x * p.v, sum_xy, c_xy);
    KahanAdd(x * x, sum_x2, c_x2);
  }
  if (const_y) {
    if (std::isinf(init_y)) return {kNaN, kNaN};
    return {0, init_y};
  }
  sum_x += c_x;
  sum_y += c_y;
  sum_xy += c_xy;
  sum_x2 += c_x2;
  const double cov_xy = sum_xy - sum_x * sum_y / n;
  const double var_x = sum_x2 - sum_x * sum_x / n;
  const double slope = cov_xy / var_x;
  return {slope, sum_y / n - slope * sum_x / n};
}

bool LessNaNFirst(double a, double b) {
  if (std::isnan(a)) return !std::isnan(b);
  if (std::isnan(b)) return false;
  return a < b;
}

// Merges buckets with equal upper bounds (upstream coalesceBuckets). Requires: sorted.
void CoalesceBuckets(std::vector<Bucket>& b) {
  size_t out = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (out > 0 && b[out - 1].upper_bound == b[i].upper_bound) {
      b[out - 1].count += b[i].count;
    } else {
      b[out++] = b[i];
    }
  }
  b.resize(out);
}

void SortBuckets(std::vector<Bucket>& b) {
  std::stable_sort(b.begin(), b.end(), [](const Bucket& x, const Bucket& y) {
    return x.upper_bound < y.upper_bound;
  });
}

}  // namespace

bool IsStartTimestampReset(int64_t prev_st, int64_t prev_t, int64_t cur_st, int64_t cur_t) {
  // Unknown, or not before the sample itself: ST == T is OpenTelemetry's spelling of an
  // unknown start (PROM-60 reads it as 0), a later start is invalid. Neither is a reset;
  // treating ST == T as one would turn every sample of such a series into a reset.
  if (cur_st == 0 || cur_st >= cur_t) return false;
  if (cur_st < prev_t) return false;  // the accumulation prev belongs to goes on
  if (cur_st > prev_t) return true;   // a new accumulation began after prev
  // The start is prev's timestamp: an OTel delta stream (prev has a valid start of its
  // own) resets at every point; a cumulative stream whose first point had an unknown or
  // invalid start (0, ST == T, or ST > T) does not.
  return prev_st != 0 && prev_st < prev_t;
}

bool IsStartTimestampOverlap(int64_t prev_st, int64_t prev_t, int64_t cur_st) {
  return cur_st != 0 && cur_st < prev_t && cur_st != prev_st;
}

std::optional<double> ExtrapolatedRate(const RangeArgs& a, bool is_counter, bool is_rate,
                                       bool* st_overlap) {
  const auto& s = a.points;
  if (s.empty()) return std::nullopt;
  // Start timestamps matter for counters only (delta() is for gauges) and never in 2.x.
  const bool use_st = is_counter && !a.compat_2x && a.sts.size() == s.size();
  // A first sample whose start lies inside the window and before the sample itself: the
  // counter was zero at that start, so count from there instead of extrapolating to the
  // left (upstream PR 18619, PROM-77 "rate extrapolation"). A start on or before the window
  // start could hide samples outside the window, so it is not used.
  const int64_t st0 = use_st ? a.sts[0] : 0;
  const bool from_st = st0 != 0 && st0 > a.range_start && st0 < s.front().t;
  if (s.size() < 2 && !from_st) return std::nullopt;
  double result = s.back().v - s.front().v;
  if (is_counter) {
    double prev = s.front().v;
    for (size_t i = 1; i < s.size(); ++i) {
      bool reset = s[i].v < prev;
      if (use_st) {
        reset = reset || IsStartTimestampReset(a.sts[i - 1], s[i - 1].t, a.sts[i], s[i].t);
        if (st_overlap != nullptr && IsStartTimestampOverlap(a.sts[i - 1], s[i - 1].t, a.sts[i])) {
          *st_overlap = true;
        }
      }
      if (reset) result += prev;
      prev = s[i].v;
    }
  }
  if (from_st) {
    result += s.front().v;  // the increase from zero at the start to the first sample
    // The start is not a sample: it takes no part in the average spacing, which (with two
    // or more samples) still decides how far to extrapolate to the right. With one sample
    // there is no spacing, so no extrapolation at all.
    double factor = 1;
    if (s.size() >= 2) {
      const double to_st = static_cast<double>(s.front().t - st0) / 1000;
      const double sampled = static_cast<double>(s.back().t - s.front().t) / 1000;
      const double avg_between = sampled / static_cast<double>(s.size() - 1);
      double to_end = static_cast<double>(a.range_end - s.back().t) / 1000;
      if (to_end >= avg_between * 1.1) to_end = avg_between / 2;
      factor = (sampled + to_st + to_end) / (sampled + to_st);
    }
    if (is_rate) factor /= static_cast<double>(a.range_ms) / 1000;
    return result * factor;
  }
  double to_start = static_cast<double>(s.front().t - a.range_start) / 1000;
  double to_end = static_cast<double>(a.range_end - s.back().t) / 1000;
  const double sampled = static_cast<double>(s.back().t - s.front().t) / 1000;
  const double avg_between = sampled / static_cast<double>(s.size() - 1);
  const double threshold = avg_between * 1.1;
  if (a.compat_2x) {
    // v2.42: the zero point clips the start before the threshold test.
    if (is_counter && result > 0 && s.front().v >= 0) {
      const double to_zero = sampled * (s.front().v / result);
      if (to_zero < to_start) to_start = to_zero;
    }
    double interval = sampled;
    interval += to_start < threshold ? to_start : avg_between / 2;
    interval += to_end < threshold ? to_end : avg_between / 2;
    result = result * (interval / sampled);
    if (is_rate) result = result / (static_cast<double>(a.range_ms) / 1000);
    return result;
  }
  if (to_start >= threshold) to_start = avg_between / 2;
  if (is_counter && result > 0 && s.front().v >= 0) {
    const double to_zero = sampled * (s.front().v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  if (to_end >= threshold) to_end = avg_between / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate) factor /= static_cast<double>(a.range_ms) / 1000;
  return result * factor;
}

std::optional<double> InstantValue(const RangeArgs& a, bool is_rate) {
  const auto& s = a.points;
  if (s.size() < 2) return std::nullopt;
  const size_t n = s.size();
  const Point& last = s[n - 1];
  const Point& prev = s[n - 2];
  bool reset = last.v < prev.v;
  if (is_rate && !reset && !a.compat_2x && a.sts.size() == n) {
    reset = IsStartTimestampReset(a.sts[n - 2], prev.t, a.sts[n - 1], last.t);
  }
  double result = (is_rate && reset) ? last.v : last.v - prev.v;
  const int64_t interval = last.t - prev.t;
  if (interval == 0) return std::nullopt;
  if (is_rate) result /= static_cast<double>(interval) / 1000;
  return result;
}

std::optional<double> Deriv(const RangeArgs& a) {
  if (a.points.size() < 2) return std::nullopt;
  return LinearRegression(a.points, a.points[0].t).slope;
}

std::optional<double> PredictLinear(const RangeArgs& a) {
  if (a.points.size() < 2) return std::nullopt;
  const Regression r = LinearRegression(a.points, a.ts);
  return r.slope * a.s0 + r.intercept;
}

std::optional<double> Resets(const RangeArgs& a) {
  const auto& s = a.points;
  if (s.empty()) return std::nullopt;
  const bool use_st = !a.compat_2x && a.sts.size() == s.size();
  double n = 0;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i].v < s[i - 1].v ||
        (use_st && IsStartTimestampReset(a.sts[i - 1], s[i - 1].t, a.sts[i], s[i].t))) {
      ++n;
    }
  }
  return n;
}

std::optional<double> Changes(const RangeArgs& a) {
  if (a.points.empty()) return std::nullopt;
  double n = 0;
  for (size_t i = 1; i < a.points.size(); ++i) {
    const double cur = a.points[i].v, prev = a.points[i - 1].v;
    if (!(cur == prev || (std::isnan(cur) && std::isnan(prev)))) ++n;
  }
  return n;
}

std::optional<double> DoubleExponentialSmoothing(const RangeArgs& a) {
  const auto& s = a.points;
  if (s.size() < 2) return std::nullopt;
  const double sf = a.s0, tf = a.s1;
  double s0 = 0, s1 = s[0].v, b = s[1].v - s[0].v;
  for (size_t i = 1; i < s.size(); ++i) {
    const double x = sf * s[i].v;
    if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;  // upstream calcTrendValue(i-1, ...)
    const double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

double SumKahan(std::span<const Point> pts) {
  double sum = 0, c = 0;
  for (const Point& p : pts) KahanAdd(p.v, sum, c);
  return sum + c;
}

double AvgKahan(std::span<const Point> pts) {
  double sum = 0, mean = 0, count = 0, c = 0;
  bool incremental = false;
  for (const Point& p : pts) {
    count++;
    if (!incremental) {
      double new_sum = sum, new_c = c;
      KahanAdd(p.v, new_sum, new_c);
      if (count == 1 || !std::isinf(new_sum)) {
        sum = new_sum;
        c = new_c;
        continue;
      }
      // The sum overflowed: continue with an incremental mean (upstream avg_over_time).
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    if (std::isinf(mean)) {
      if (std::isinf(p.v) && (mean > 0) == (p.v > 0)) continue;
      if (!std::isinf(p.v) && !std::isnan(p.v)) continue;
    }
    const double corrected = mean + c;
    KahanAdd(p.v / count - corrected / count, mean, c);
  }
  if (incremental) return mean + c;
  return sum / count + c / count;
}

double StdvarOf(std::span<const Point> pts) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const Point& p : pts) {
    count++;
    const double delta = p.v - (mean + c_mean);
    KahanAdd(delta / count, mean, c_mean);
    KahanAdd(delta * (p.v - (mean + c_mean)), aux, c_aux);
  }
  return (aux + c_aux) / count;
}

double Quantile(double q, std::vector<double>& values) {
  if (values.empty() || std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  std::sort(values.begin(), values.end(), LessNaNFirst);
  const double n = static_cast<double>(values.size());
  const double rank = q * (n - 1);
  const double lower = std::max(0.0, std::floor(rank));
  const double upper = std::min(n - 1, lower + 1);
  const double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

double MadOf(std::span<const Point> pts) {
  std::vector<double> v;
  v.reserve(pts.size());
  for (const Point& p : pts) v.push_back(p.v);
  const double median = Quantile(0.5, v);
  for (double& x : v) x = std::abs(x - median);
  return Quantile(0.5, v);
}

double BucketQuantile(double q, std::vector<Bucket>& buckets, bool* forced_monotonic,
                      bool compat_2x) {
  *forced_monotonic = false;
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  SortBuckets(buckets);
  if (buckets.empty() || !std::isinf(buckets.back().upper_bound) ||
      buckets.back().upper_bound < 0) {
    return kNaN;
  }
  CoalesceBuckets(buckets);
  // ensureMonotonic (2.x) / ensureMonotonicAndIgnoreSmallDeltas (3.x, tolerance 1e-12).
  double prev = buckets[0].count;
  for (size_t i = 1; i < buckets.size(); ++i) {
    const double cur = buckets[i].count;
    if (cur == prev) continue;
    if (!compat_2x && std::abs(cur - prev) < 1e-12 * prev) {
      buckets[i].count = prev;
      continue;
    }
    if (cur < prev) {
      buckets[i].count = prev;
      *forced_monotonic = true;
      continue;
    }
    prev = cur;
  }
  if (buckets.size() < 2) return kNaN;
  const double observations = buckets.back().count;
  if (observations == 0) return kNaN;
  double rank = q * observations;
  // sort.Search over all but the +Inf bucket: first b with count >= rank.
  size_t b = 0;
  while (b < buckets.size() - 1 && !(buckets[b].count >= rank)) ++b;
  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].upper_bound;
  if (b == 0 && buckets[0].upper_bound <= 0) return buckets[0].upper_bound;
  double bucket_start = 0;
  const double bucket_end = buckets[b].upper_bound;
  double count = buckets[b].count;
  if (b > 0) {
    bucket_start = buckets[b - 1].upper_bound;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return bucket_start + (bucket_end - bucket_start) * (rank / count);
}

double BucketFraction(double lower, double upper, std::vector<Bucket>& buckets) {
  SortBuckets(buckets);
  if (buckets.empty() || !std::isinf(buckets.back().upper_bound)) return kNaN;
  CoalesceBuckets(buckets);
  const double count = buckets.back().count;
  if (count == 0 || std::isnan(lower) || std::isnan(upper)) return kNaN;
  if (lower >= upper) return 0;
  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const double lb = i > 0 ? buckets[i - 1].upper_bound : (buckets[i].upper_bound > 0 ? 0 : -kInf);
    const double ub = buckets[i].upper_bound;
    const double bc = buckets[i].count;
    auto interpolate = [&](double v) { return rank + (bc - rank) * (v - lb) / (ub - lb); };
    if (!lower_set && lb >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && lb >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    if (!lower_set && lb < lower && ub > lower) {
      lower_rank = std::isinf(lb) || std::isinf(ub) ? (std::isinf(ub) ? rank : bc)
                                                    : interpolate(lower);
      lower_set = true;
    }
    if (!upper_set && lb < upper && ub > upper) {
      upper_rank = std::isinf(lb) || std::isinf(ub) ? (std::isinf(ub) ? rank : bc)
                                                    : interpolate(upper);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank = bc;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / count;
}

std::string FormatFloatGo(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

bool ParseFloatGo(std::string_view s, double* out) {
  if (s.empty()) return false;
  bool neg = false;
  std::string_view body = s;
  if (body[0] == '+' || body[0] == '-') {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  auto lower = [](std::string_view x) {
    std::string r(x);
    for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
  };
  const std::string lb = lower(body);
  if (lb == "inf" || lb == "infinity") {
    *out = neg ? -kInf : kInf;
    return true;
  }
  if (lb == "nan") {
    if (s.size() != body.size()) return false;
    *out = kNaN;
    return true;
  }
  if (body.empty()) return false;
  double v = 0;
  if (lb.size() > 2 && lb[0] == '0' && lb[1] == 'x') {
    auto r = std::from_chars(lb.data() + 2, lb.data() + lb.size(), v, std::chars_format::hex);
    if (r.ec != std::errc() || r.ptr != lb.data() + lb.size()) return false;
  } else {
    if (body[0] == '+' || body[0] == '-') return false;
    auto r = std::from_chars(body.data(), body.data() + body.size(), v);
    if (r.ptr != body.data() + body.size()) return false;
    if (r.ec == std::errc::result_out_of_range) {
      // Go returns ±Inf (or 0 for underflow) with an error; treat as not a number.
      return false;
    }
    if (r.ec != std::errc()) return false;
  }
  *out = neg ? -v : v;
  return true;
}

DateFields DateOf(int64_t sec) {
  int64_t days = sec / 86400;
  int64_t rem = sec % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  DateFields f{};
  f.hour = static_cast<int>(rem / 3600);
  f.minute = static_cast<int>((rem % 3600) / 60);
  // 1970-01-01 was a Thursday (weekday 4, Sunday = 0).
  f.weekday = static_cast<int>(((days % 7) + 11) % 7);
  // Howard Hinnant's civil_from_days.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  f.year = static_cast<int>(y);
  f.month = static_cast<int>(m);
  f.day = static_cast<int>(d);
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  static constexpr int kCum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  static constexpr int kLen[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  f.yday = kCum[m - 1] + static_cast<int>(d) + (leap && m > 2 ? 1 : 0);
  f.days_in_month = kLen[m - 1] + (leap && m == 2 ? 1 : 0);
  return f;
}

}  // namespace strata::promql::internal
