// strata::storage queriers and appenders: the contract between sources of series (the head,
// persisted blocks, object-storage stores, remote peers) and their consumers (PromQL, rules,
// the Thanos-style global querier). `storage` never includes `tsdb`; tsdb implements it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/model/labels.h"
#include "strata/model/matcher.h"
#include "strata/model/sample.h"
#include "strata/storage/series.h"

namespace strata::storage {

// Hints a consumer gives about what it will do with the series; sources may use them to
// read less (for example Thanos picks a downsampled aggregate from `func`).
struct SelectHints {
  int64_t start = 0;  // ms; the time range the consumer will actually read
  int64_t end = 0;    // ms
  int64_t step = 0;   // ms; 0 for instant queries
  int64_t range = 0;  // ms; range of the enclosing range selector, 0 if none
  std::string func;   // name of the enclosing PromQL function or aggregation, if any
  std::vector<std::string> grouping;
  bool by = false;
};

// Reads series over the closed time range [mint, maxt] fixed at creation. A Querier is used
// by one thread at a time; the data it returns stays valid until it is destroyed.
class Querier {
 public:
  virtual ~Querier() = default;
  // Series matching every matcher, sorted by labels, with samples clipped to [mint, maxt].
  // Requires: at least one matcher. Errors surface through the set's status().
  virtual std::unique_ptr<SeriesSet> Select(const std::vector<model::Matcher>& matchers,
                                            const SelectHints* hints = nullptr) = 0;
  // Sorted unique label names of series matching `matchers` (all series if empty).
  virtual absl::StatusOr<std::vector<std::string>> LabelNames(
      const std::vector<model::Matcher>& matchers = {}) = 0;
  // Sorted unique values of label `name` among series matching `matchers` (all if empty).
  virtual absl::StatusOr<std::vector<std::string>> LabelValues(
      const std::string& name, const std::vector<model::Matcher>& matchers = {}) = 0;
  // Releases resources; the destructor calls it too.
  virtual absl::Status Close() { return absl::OkStatus(); }
};

// Anything that can hand out queriers over a time range.
class Queryable {
 public:
  virtual ~Queryable() = default;
  // Returns a querier over [mint, maxt]; errors if the source is closed.
  virtual absl::StatusOr<std::unique_ptr<Querier>> NewQuerier(int64_t mint, int64_t maxt) = 0;
};

// Appends samples in a batch that Commit() makes visible and durable (per the source's
// policy) all at once, or Rollback() discards. One appender per thread; an appender is
// finished after Commit() or Rollback().
class Appender {
 public:
  virtual ~Appender() = default;
  // Appends (t, v) to the series `lset`, or to `ref` when non-zero (a ref from an earlier
  // Append of the same source). Returns the series ref to pass next time. Errors:
  // InvalidArgument for invalid labels; the source's named errors for out-of-order,
  // out-of-bounds and duplicate samples (the batch stays usable).
  virtual absl::StatusOr<model::SeriesRef> Append(model::SeriesRef ref,
                                                  const model::Labels& lset, int64_t t,
                                                  double v) = 0;
  // Makes the batch visible. FailedPrecondition if already finished; the I/O error if the
  // write-ahead log could not be written (nothing of the batch is then visible).
  virtual absl::Status Commit() = 0;
  // Discards the batch. FailedPrecondition if already finished.
  virtual absl::Status Rollback() = 0;
};

class Appendable {
 public:
  virtual ~Appendable() = default;
  virtual std::unique_ptr<Appender> NewAppender() = 0;
};

// A querier over several queriers: series with equal labels from different sources are
// merged into one, samples deduplicated by timestamp (the first source's value wins on a
// tie, as Prometheus's chained series merge). Takes ownership of `queriers`.
std::unique_ptr<Querier> NewMergeQuerier(std::vector<std::unique_ptr<Querier>> queriers);

// A SampleIterator over several sorted iterators: union by timestamp, on equal timestamps
// the earliest iterator in `its` wins.
std::unique_ptr<SampleIterator> NewMergeSampleIterator(
    std::vector<std::unique_ptr<SampleIterator>> its);

}  // namespace strata::storage
