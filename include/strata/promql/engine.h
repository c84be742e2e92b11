// strata::promql engine: evaluates PromQL instant and range queries over any
// storage::Queryable with Prometheus's semantics (lookback, staleness, extrapolation,
// vector matching, subqueries, offset and @).
//
// Semantics default to current Prometheus (3.x); EngineOptions::compat_2x selects 2.x
// behaviour where the two differ (left-closed range selectors and lookback, holt_winters,
// `.` not matching newline in regexes, eager __name__ dropping).
//
// Implemented: every float function and aggregation of current Prometheus (plus the
// experimental info, limitk, limit_ratio, sort_by_label, mad_over_time, first_over_time,
// ts_of_*, histogram_quantiles), fill()/fill_left()/fill_right(), duration expressions,
// `anchored`/`smoothed` range selectors, and the annotations upstream attaches to these.
// Not implemented: native histograms (histogram samples are not read; histogram_* functions
// other than histogram_quantile/histogram_fraction/histogram_quantiles over classic `le`
// buckets return nothing).
//
// Start timestamps (storage::SampleIterator::AtST(), 3.x mode only) are used as upstream:
// rate/increase/irate/resets also see a counter reset where a sample's start timestamp
// begins a new accumulation, rate/increase count from zero at the first sample's start
// when it lies inside the window (instead of extrapolating to the left), and overlapping
// start timestamps add a warning. Subqueries do not propagate them. start_timestamp(v)
// returns them (in seconds, 0 when unknown) for a selector, nothing for other expressions.
//
// Thread-safety: an Engine is immutable after construction and may run queries from many
// threads at once; each query uses its own queriers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "strata/promql/value.h"
#include "strata/storage/querier.h"

namespace strata::promql {

struct EngineOptions {
  // How far back an instant selector looks for the latest sample (ms). Default 5m.
  int64_t lookback_delta_ms = 5 * 60 * 1000;
  // Step of subqueries written without one, e.g. x[5m:] (ms). Prometheus uses the global
  // evaluation interval, 1m by default.
  int64_t default_subquery_step_ms = 60 * 1000;
  // Most samples a query may hold in memory at once; exceeding it fails the query with
  // ResourceExhausted ("query processing would load too many samples into memory in ...").
  int64_t max_samples = 50'000'000;
  // Longest a query may run; exceeding it fails with DeadlineExceeded.
  absl::Duration timeout = absl::Minutes(2);
  // Most points a range query may return per series (Prometheus: 11,000); more fails with
  // InvalidArgument.
  int64_t max_points_per_series = 11000;
  // Prometheus 2.x semantics instead of 3.x.
  bool compat_2x = false;
  // Experimental functions and syntax (info, limitk, fill(), duration expressions, ...).
  bool enable_experimental = true;
};

// Time spent and samples touched, returned with every result.
struct QueryStats {
  int64_t total_samples = 0;  // samples read from storage and produced by evaluation
  int64_t peak_samples = 0;   // most samples held at once
  absl::Duration parse_time;
  // Opening queriers and selecting series (storage Select calls), as Prometheus's
  // queryPreparationTime. Selection happens as evaluation reaches each selector, so this is
  // the sum over selectors; zero for a query without selectors.
  absl::Duration prepare_time;
  absl::Duration eval_time;  // evaluation, excluding prepare_time
};

struct Result {
  ValueType type = ValueType::kNone;
  Scalar scalar;  // when type == kScalar
  String string;  // when type == kString
  Vector vector;  // when type == kVector (instant queries)
  Matrix matrix;  // when type == kMatrix (range queries, or an instant range selector)
  // Annotations, as Prometheus's warnings and infos (each ends with the position, e.g.
  // "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"x\" (1:6)").
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
  QueryStats stats;
};

// Error codes: InvalidArgument for a query that does not parse or type-check (the message
// starts with "parse error" / carries the position, as Prometheus's) and for evaluation
// errors of the query itself (e.g. "found duplicate series for the match group ...");
// ResourceExhausted for the sample limit; DeadlineExceeded for the timeout; the storage's
// error for failing reads.
class Engine {
 public:
  explicit Engine(EngineOptions opts = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineOptions& options() const;

  // Evaluates `query` at `ts` (ms).
  absl::StatusOr<Result> InstantQuery(storage::Queryable& db, std::string_view query,
                                      int64_t ts) const;
  // Evaluates `query` at start, start+step, ..., end (ms; step > 0). The result is a matrix
  // (or a scalar/string query's values as a one-series matrix without labels).
  absl::StatusOr<Result> RangeQuery(storage::Queryable& db, std::string_view query,
                                    int64_t start, int64_t end, int64_t step) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::promql
