// Evaluator semantics that are easy to get subtly wrong, checked against values computed by
// hand from Prometheus's definitions (promql/functions.go extrapolatedRate, engine.go
// vectorSelectorSingle / matrixIterSlice, VectorBinop).
#include <cmath>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
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

// Start timestamps (storage::SampleIterator::AtST), values worked out by hand from
// upstream's rules (promql/functions.go isStartTimestampReset and the PROM-77 "rate
// extrapolation" section; start_timestamps.test covers more shapes).

// Loads `values` at 0, 1m, 2m, ... with start timestamp t + st_offsets[i] (0 = none).
void LoadWithSt(MemStorage& db, const model::Labels& lset, std::vector<double> values,
                std::vector<int64_t> st_offsets) {
  for (size_t i = 0; i < values.size(); ++i) {
    const int64_t t = static_cast<int64_t>(i) * kMin;
    db.Add(lset, t, values[i], st_offsets[i] == 0 ? storage::kNoStartTimestamp : t + st_offsets[i]);
  }
}

TEST(StartTimestampTest, DeltaSamplesAreCounterResetsFor3xOnly) {
  // An OTel delta stream: every sample holds the increase since the previous one (ST = the
  // previous sample's timestamp). By value it is a flat line.
  MemStorage db;
  LoadWithSt(db, {{"__name__", "d_total"}}, std::vector<double>(12, 60),
             std::vector<int64_t>(12, -kMin));
  Engine e;
  // Window (5m, 10m]: samples 6m..10m, four resets (+60 each) = 240 over 240s; the first
  // start (5m) is on the window start, so not used: extrapolation 60s to the start, 300.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "increase(d_total[5m])", 10 * kMin), 300);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "rate(d_total[5m])", 10 * kMin), 1);
  // irate: the last two samples reset, so the last value over 60s.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "irate(d_total[5m])", 10 * kMin), 1);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "resets(d_total[5m])", 10 * kMin), 4);
  // Gauge functions ignore start timestamps.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "delta(d_total[5m])", 10 * kMin), 0);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "idelta(d_total[5m])", 10 * kMin), 0);
  // Subqueries do not carry start timestamps.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "increase(d_total[5m:1m])", 10 * kMin), 0);
  // Prometheus 2.42 has no start timestamps.
  Engine e2(Compat2x());
  EXPECT_DOUBLE_EQ(InstantValue(e2, db, "increase(d_total[5m])", 10 * kMin), 0);
  EXPECT_DOUBLE_EQ(InstantValue(e2, db, "resets(d_total[5m])", 10 * kMin), 0);
}

TEST(StartTimestampTest, FirstStartInsideTheWindowReplacesLeftExtrapolation) {
  MemStorage db;
  // Samples 2m..5m valued 1..4, all starting at 1m30s (a cumulative stream), after two
  // zeros without start timestamps.
  LoadWithSt(db, {{"__name__", "c_total"}}, {0, 0, 1, 2, 3, 4},
             {0, 0, -30'000, -90'000, -150'000, -210'000});
  Engine e;
  // At 6m, window (1m, 6m]: the counter was 0 at 1m30s and 4 at 5m (increase 4 over 210s);
  // the end is 60s past the last sample (< 1.1 * 60s spacing): 4 * 270/210. Without start
  // timestamps it would be 3 * 300/180 = 5.
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "increase(c_total[5m])", 6 * kMin), 4.0 * 270 / 210);
  // A single sample suffices when its start is in the window: no extrapolation at all.
  MemStorage one;
  one.Add({{"__name__", "s_total"}}, 4 * kMin, 3, 4 * kMin - 150'000);
  EXPECT_DOUBLE_EQ(InstantValue(e, one, "increase(s_total[5m])", 6 * kMin), 3);
  EXPECT_DOUBLE_EQ(InstantValue(e, one, "rate(s_total[5m])", 6 * kMin), 3.0 / 300);
  // A start on the window's (open) lower bound, or equal to the sample's own timestamp,
  // is not used: one sample then gives nothing, as without start timestamps.
  MemStorage edge;
  edge.Add({{"__name__", "a_total"}}, 4 * kMin, 3, kMin);
  edge.Add({{"__name__", "b_total"}}, 4 * kMin, 3, 4 * kMin);
  EXPECT_EQ(InstantSize(e, edge, "increase(a_total[5m])", 6 * kMin), 0u);
  EXPECT_EQ(InstantSize(e, edge, "increase(b_total[5m])", 6 * kMin), 0u);
}

TEST(StartTimestampTest, UnknownStartEncodedAsTheFirstTimestampIsNoReset) {
  // OTel cumulative with unknown start: the first point has ST == T, the next ones point
  // at it. Not a delta stream, so no reset; a delta stream (first ST before T) resets.
  MemStorage db;
  db.Add({{"__name__", "u_total"}}, 2 * kMin, 1, 2 * kMin);
  db.Add({{"__name__", "u_total"}}, 3 * kMin, 1, 2 * kMin);
  db.Add({{"__name__", "d_total"}}, 2 * kMin, 1, kMin);
  db.Add({{"__name__", "d_total"}}, 3 * kMin, 1, 2 * kMin);
  Engine e;
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "resets(u_total[2m])", 3 * kMin), 0);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "resets(d_total[2m])", 3 * kMin), 1);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "irate(u_total[2m])", 3 * kMin), 0);
  EXPECT_DOUBLE_EQ(InstantValue(e, db, "irate(d_total[2m])", 3 * kMin), 1.0 / 60);
}

TEST(StartTimestampTest, OverlappingStartsAreAWarningWithThePosition) {
  MemStorage db;
  // Starts 1m, 2m for samples at 3m, 4m: the second starts before the first sample's time
  // yet differs from its start, so two accumulations overlap.
  db.Add({{"__name__", "o_total"}}, 3 * kMin, 60, kMin);
  db.Add({{"__name__", "o_total"}}, 4 * kMin, 120, 2 * kMin);
  // A cumulative stream (same start throughout) does not overlap.
  db.Add({{"__name__", "c_total"}}, 3 * kMin, 60, kMin);
  db.Add({{"__name__", "c_total"}}, 4 * kMin, 120, kMin);
  Engine e;
  auto r = e.InstantQuery(db, "sum(rate(o_total[3m]))", 4 * kMin);
  STRATA_ASSERT_OK(r.status());
  EXPECT_THAT(r->warnings,
              ::testing::ElementsAre(
                  "PromQL warning: sample has start time that overlaps with previous sample "
                  "timestamp for metric \"o_total\" (1:10)"));
  auto c = e.InstantQuery(db, "rate(c_total[3m])", 4 * kMin);
  STRATA_ASSERT_OK(c.status());
  EXPECT_THAT(c->warnings, ::testing::IsEmpty());
  // Not checked by irate, nor in 2.x mode.
  auto i = e.InstantQuery(db, "irate(o_total[3m])", 4 * kMin);
  STRATA_ASSERT_OK(i.status());
  EXPECT_THAT(i->warnings, ::testing::IsEmpty());
  Engine e2(Compat2x());
  auto r2 = e2.InstantQuery(db, "rate(o_total[3m])", 4 * kMin);
  STRATA_ASSERT_OK(r2.status());
  EXPECT_THAT(r2->warnings, ::testing::IsEmpty());
}

TEST(StartTimestampTest, StartTimestampFunctionReadsTheSelectedSamplesStart) {
  // As start_timestamps.test's case "b" plus a sample without a start: samples at 40s
  // (start 37s), 70s (start 30s) and 100s (none); lookback 5m.
  MemStorage db;
  const model::Labels lset({{"__name__", "s"}, {"case", "b"}});
  db.Add(lset, 40'000, 40, 37'000);
  db.Add(lset, 70'000, 70, 30'000);
  db.Add(lset, 100'000, 100);
  Engine e;
  auto r = e.RangeQuery(db, "start_timestamp(s)", 30'000, 110'000, 10'000);
  STRATA_ASSERT_OK(r.status());
  ASSERT_EQ(r->matrix.size(), 1u);
  EXPECT_EQ(r->matrix[0].metric, model::Labels({{"case", "b"}}));
  std::vector<double> got;
  for (const Point& p : r->matrix[0].points) got.push_back(p.v);
  // Nothing at 30s; 37 from 40s, 30 from 70s, 0 (unknown) from 100s.
  EXPECT_THAT(got, ::testing::ElementsAre(37, 37, 37, 30, 30, 30, 0, 0));
  EXPECT_EQ(r->matrix[0].points.front().t, 40'000);
  // An evaluated expression has no start timestamps: no result.
  auto x = e.RangeQuery(db, "start_timestamp(s * 1)", 30'000, 110'000, 10'000);
  STRATA_ASSERT_OK(x.status());
  EXPECT_THAT(x->matrix, ::testing::IsEmpty());
}

// A Queryable whose NewQuerier takes at least `delay` (a slow storage), so the time spent
// selecting is known to be at least that without measuring anything else.
class SlowQueryable final : public storage::Queryable {
 public:
  SlowQueryable(storage::Queryable& db, absl::Duration delay) : db_(db), delay_(delay) {}
  absl::StatusOr<std::unique_ptr<storage::Querier>> NewQuerier(int64_t mint,
                                                                int64_t maxt) override {
    ++calls;
    absl::SleepFor(delay_);
    return db_.NewQuerier(mint, maxt);
  }
  int calls = 0;

 private:
  storage::Queryable& db_;
  absl::Duration delay_;
};

TEST(StatsTest, PrepareTimeCountsSeriesSelectionAndIsZeroWithoutSelectors) {
  MemStorage mem;
  Load(mem, {{"__name__", "a_total"}}, {1, 2, 3});
  Load(mem, {{"__name__", "b"}}, {1, 2, 3});
  SlowQueryable db(mem, absl::Milliseconds(2));
  Engine e;
  // Two selectors, two selections of at least 2ms each.
  auto r = e.InstantQuery(db, "rate(a_total[5m]) + on() b", 2 * kMin);
  STRATA_ASSERT_OK(r.status());
  EXPECT_EQ(db.calls, 2);
  EXPECT_GE(r->stats.prepare_time, absl::Milliseconds(4));
  EXPECT_GE(r->stats.eval_time, absl::ZeroDuration());
  auto rr = e.RangeQuery(db, "b", 0, 2 * kMin, kMin);
  STRATA_ASSERT_OK(rr.status());
  EXPECT_GE(rr->stats.prepare_time, absl::Milliseconds(2));
  // Nothing is selected for a literal expression.
  auto lit = e.InstantQuery(db, "1 + 2", 0);
  STRATA_ASSERT_OK(lit.status());
  EXPECT_EQ(lit->stats.prepare_time, absl::ZeroDuration());
  EXPECT_EQ(db.calls, 3);
}

}  // namespace
}  // namespace strata::promql
