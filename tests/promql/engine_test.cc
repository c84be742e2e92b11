// Evaluator semantics that are easy to get subtly wrong, checked against values computed by
// hand from Prometheus's definitions (promql/functions.go extrapolatedRate, engine.go
// vectorSelectorSingle / matrixIterSlice, VectorBinop).
#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"
#include "strata/promql/engine.h"
#include "strata/promql/promqltest.h"
#include "testing/status_matchers.h"

namespace strata::promql {
namespace {

using promqltest::MemStorage;
using ::testing::HasSubstr;

constexpr int64_t kMin = 60'000;

// Loads `values` at 0, step, 2*step, ... into series `lset`.
void Load(MemStorage& db, const model::Labels& lset, std::vector<double> values,
          int64_t step = kMin) {
  std::vector<model::Sample> s;
  for (size_t i = 0; i < values.size(); ++i) {
    s.push_back(model::Sample{static_cast<int64_t>(i) * step, values[i]});
  }
  db.AddSeries(lset, s);
}

double InstantValue(const Engine& e, MemStorage& db, const std::string& q, int64_t ts) {
  auto r = e.InstantQuery(db, q, ts);
  EXPECT_TRUE(r.ok()) << q << ": " << r.status();
  if (!r.ok()) return std::nan("");
  if (r->type == ValueType::kScalar) return r->scalar.v;
  EXPECT_EQ(r->vector.size(), 1u) << q;
  return r->vector.empty() ? std::nan("") : r->vector[0].v;
}

size_t InstantSize(const Engine& e, MemStorage& db, const std::string& q, int64_t ts) {
  auto r = e.InstantQuery(db, q, ts);
  EXPECT_TRUE(r.ok()) << q << ": " << r.status();
  return r.ok() ? r->vector.size() : 0;
}

EngineOptions Compat2x() {
  EngineOptions o;
  o.compat_2x = true;
  return o;
}

TEST(RateTest, ExtrapolatesToTheRangeStartWhenTheFirstSampleIsClose) {
  MemStorage db;
  Load(db, {{"__name__", "c_total"}}, {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100});
  Engine e;
  // Window (300s, 600s]: samples 360..600 (60..100). delta 40 over 240s, 60s to the
  // start (< 1.1 * 60s average) is extrapolated: 40 * 300/240 = 50 -> rate 50/300.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "increase(c_total[5m])", 10 * kMin), 50);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "rate(c_total[5m])", 10 * kMin), 50.0 / 300);
  // 2.x includes the sample at 300s: delta 50 over the full 300s, nothing to extrapolate.
  Engine e2(Compat2x());
  EXPECT_DOUBLE_EQ(InstantValue(e2, db, "increase(c_total[5m])", 10 * kMin), 50);
}

TEST(RateTest, StopsExtrapolationAtTheCounterZeroPoint) {
  MemStorage db;
  Load(db, {{"__name__", "y_total"}}, {1, 11, 21});
  Engine e;
  // Series starts inside the 5m window: half an interval (30s) would be extrapolated, but
  // the counter would reach zero after 120s * 1/20 = 6s, so only 6s: 20 * 126/120 = 21.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "increase(y_total[5m])", 2 * kMin), 21);
  Engine e2(Compat2x());
  EXPECT_DOUBLE_EQ(InstantValue(e2, db, "increase(y_total[5m])", 2 * kMin), 21);
  // delta() is not a counter function: no zero clipping, 20 * 150/120.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "delta(y_total[5m])", 2 * kMin), 25);
}

TEST(RateTest, AddsCounterResets) {
  MemStorage db;
  Load(db, {{"__name__", "r_total"}}, {0, 10, 20, 5, 15});
  Engine e;
  // 15 - 0 + 20 (reset from 20 to 5); first sample 0 pins the start: no extrapolation.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "increase(r_total[5m])", 4 * kMin), 35);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "resets(r_total[5m])", 4 * kMin), 1);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "irate(r_total[5m])", 4 * kMin), 10.0 / 60);
  // Fewer than two samples: no result.
  EXPECT_EQ(InstantSize(e, db, "rate(r_total[1m])", 4 * kMin), 0u);
}

TEST(LookbackTest, SampleExactlyAtTheLowerBoundIsExcludedIn3xIncludedIn2x) {
  MemStorage db;
  Load(db, {{"__name__", "m"}}, {1});
  Engine e3;
  Engine e2(Compat2x());
  EXPECT_EQ(InstantSize(e3, db, "m", 5 * kMin - 1), 1u);
  EXPECT_EQ(InstantSize(e3, db, "m", 5 * kMin), 0u);
  EXPECT_EQ(InstantSize(e2, db, "m", 5 * kMin), 1u);
  EXPECT_EQ(InstantSize(e2, db, "m", 5 * kMin + 1), 0u);
  // Range selectors follow the same rule.
  EXPECT_EQ(InstantSize(e3, db, "count_over_time(m[1m])", kMin), 0u);
  EXPECT_DOUBLE_EQ(InstantValue(e2, db, "count_over_time(m[1m])", kMin), 1);
}

TEST(StalenessTest, StaleMarkerEndsTheSeriesUntilTheNextSample) {
  MemStorage db;
  Load(db, {{"__name__", "s"}}, {1, model::kStaleNaN, 3}, 10'000);
  Engine e;
  // Samples at 0s (1), 10s (stale marker), 20s (3).
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "s", 5'000), 1);
  EXPECT_EQ(InstantSize(e, db, "s", 15'000), 0u);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "s", 25'000), 3);
  // Range functions ignore the marker.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "count_over_time(s[1m])", 25'000), 2);
}

TEST(RangeQueryTest, EvaluatesEveryStepAndHonoursOffsetAndAt) {
  MemStorage db;
  Load(db, {{"__name__", "g"}}, {0, 1, 2, 3, 4, 5});
  Engine e;
  auto r = e.RangeQuery(db, "g offset 1m", 2 * kMin, 4 * kMin, kMin);
  STRATA_ASSERT_OK(r.status());
  ASSERT_EQ(r->matrix.size(), 1u);
  ASSERT_EQ(r->matrix[0].points.size(), 3u);
  EXPECT_EQ(r->matrix[0].points[0].t, 2 * kMin);
  EXPECT_EQ(r->matrix[0].points[0].v, 1);
  EXPECT_EQ(r->matrix[0].points[2].v, 3);
  auto at = e.RangeQuery(db, "g @ 300", 0, 2 * kMin, kMin);
  STRATA_ASSERT_OK(at.status());
  ASSERT_EQ(at->matrix.size(), 1u);
  for (const Point& p : at->matrix[0].points) EXPECT_EQ(p.v, 5);
}

TEST(VectorMatchingTest, DuplicateSeriesOnTheOneSideIsAnError) {
  MemStorage db;
  Load(db, {{"__name__", "a"}, {"job", "x"}}, {1});
  Load(db, {{"__name__", "b"}, {"job", "x"}, {"i", "1"}}, {1});
  Load(db, {{"__name__", "b"}, {"job", "x"}, {"i", "2"}}, {1});
  Engine e;
  auto r = e.InstantQuery(db, "a + on(job) b", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "found duplicate series for the match group {job=\"x\"} on the right hand-side of "
            "the operation: [{__name__=\"b\", i=\"1\", job=\"x\"}, {__name__=\"b\", i=\"2\", "
            "job=\"x\"}];many-to-many matching not allowed: matching labels must be unique on "
            "one side");
  auto ok = e.InstantQuery(db, "a + on(job) group_right b", 0);
  STRATA_ASSERT_OK(ok.status());
  EXPECT_EQ(ok->vector.size(), 2u);
  auto multi = e.InstantQuery(db, "b + on(job) a", 0);
  ASSERT_FALSE(multi.ok());
  EXPECT_THAT(std::string(multi.status().message()),
              HasSubstr("multiple matches for labels: many-to-one matching must be explicit"));
}

TEST(LimitsTest, SampleLimitAndResolutionLimitFailWithUpstreamMessages) {
  MemStorage db;
  std::vector<double> v(100, 1);
  for (int i = 0; i < 10; ++i) {
    Load(db, {{"__name__", "m"}, {"i", std::to_string(i)}}, v);
  }
  EngineOptions o;
  o.max_samples = 50;
  Engine e(o);
  auto r = e.InstantQuery(db, "sum(m)", 10 * kMin);
  STRATA_ASSERT_OK(r.status());  // 10 samples
  auto big = e.InstantQuery(db, "sum_over_time(m[30m])", 40 * kMin);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(big.status().message(),
            "query processing would load too many samples into memory in query execution");
  Engine e2;
  auto res = e2.RangeQuery(db, "m", 0, 11001, 1);
  ASSERT_FALSE(res.ok());
  EXPECT_THAT(std::string(res.status().message()),
              HasSubstr("exceeded maximum resolution of 11,000 points per timeseries"));
}

TEST(LimitsTest, ExpiredDeadlineFailsWithDeadlineExceeded) {
  MemStorage db;
  Load(db, {{"__name__", "m"}}, {1});
  EngineOptions o;
  o.timeout = absl::Seconds(-1);  // already expired: no timing involved
  Engine e(o);
  auto r = e.InstantQuery(db, "m", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(NameDroppingTest, DelayedIn3xEagerIn2x) {
  MemStorage db;
  Load(db, {{"__name__", "a_total"}, {"x", "1"}}, {1});
  Load(db, {{"__name__", "b_total"}, {"x", "1"}}, {2});
  Engine e3;
  Engine e2(Compat2x());
  // Both series lose their name: a duplicate label set.
  EXPECT_FALSE(e3.InstantQuery(db, "-{x=\"1\"}", 0).ok());
  EXPECT_FALSE(e2.InstantQuery(db, "-{x=\"1\"}", 0).ok());
  // 3.x keeps the name until the end, so a later label_replace can restore it.
  auto r = e3.InstantQuery(
      db, "label_replace(abs(a_total), \"__name__\", \"kept\", \"\", \"\")", 0);
  STRATA_ASSERT_OK(r.status());
  ASSERT_EQ(r->vector.size(), 1u);
  EXPECT_EQ(r->vector[0].metric.MetricName(), "kept");
  auto c = e3.InstantQuery(db, "a_total > 0", 0);
  STRATA_ASSERT_OK(c.status());
  EXPECT_EQ(c->vector[0].metric.MetricName(), "a_total");
}

TEST(SubqueryTest, EvaluationTimesAreAlignedToMultiplesOfTheStep) {
  MemStorage db;
  Load(db, {{"__name__", "m"}}, {1, 2}, 10'000);
  Engine e;
  // [50s:10s] at 10s: times -30s..10s (the -40s boundary is excluded in 3.x): 1 + 2.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "sum_over_time(m[50s:10s])", 10'000), 3);
  // [10s:5s] at 7s: the range starts at -3s; the first aligned time is 0s, then 5s.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "sum_over_time(m[10s:5s])", 7'000), 2);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "count_over_time(m[10s:5s])", 7'000), 2);
}

TEST(AnnotationsTest, RateOfANonCounterNameIsAnInfoWithItsPosition) {
  MemStorage db;
  Load(db, {{"__name__", "m"}}, {1, 2, 3});
  Engine e;
  auto r = e.InstantQuery(db, "rate(m[5m])", 2 * kMin);
  STRATA_ASSERT_OK(r.status());
  ASSERT_EQ(r->infos.size(), 1u);
  EXPECT_EQ(r->infos[0],
            "PromQL info: metric might not be a counter, name does not end in "
            "_total/_sum/_count/_bucket: \"m\" (1:6)");
  auto q = e.InstantQuery(db, "quantile(2, m)", 2 * kMin);
  STRATA_ASSERT_OK(q.status());
  ASSERT_EQ(q->warnings.size(), 1u);
  EXPECT_EQ(q->warnings[0], "PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)");
  EXPECT_TRUE(std::isinf(q->vector[0].v));
}

}  // namespace
}  // namespace strata::promql
