// strata::promql::promqltest: runs Prometheus's PromQL test scripts (`load`, `clear`,
// `eval instant|range ...` with expected results, as in promql/promqltest/testdata/*.test)
// against the strata engine over an in-memory storage.
//
// The script language and the checks are described in
// /work/shared/conformance/README.md; they follow upstream's promql/promqltest/test.go
// (3.x) and promql/test.go (v2.42.0). In particular every instant eval is re-run with
// `@ <t>` pinned on every selector at several evaluation times, and as a range query
// t-1m..t+1m step 1m, unless the expression uses a time-dependent function.
//
// Start timestamps (`name{...}@st <offsets>` lines before a series' sample line) are kept by
// MemStorage and reach the engine through storage::SampleIterator::AtST().
//
// Native histograms are not supported by the engine yet: evals whose data or expected
// result involves them (`{{...}}` values loaded since the last `clear`, `load_with_nhcb`, or
// `{{` in the expected lines) are counted as skipped, not run.
//
// Thread-safety: MemStorage is not thread-safe; RunTestScript is reentrant.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"
#include "strata/promql/engine.h"
#include "strata/storage/querier.h"

namespace strata::promql::promqltest {

// An in-memory storage::Queryable: series -> samples sorted by time, each with an optional
// start timestamp (ms; storage::kNoStartTimestamp for none) that its iterators report
// through AtST(). Queriers borrow the data and stay valid until the next Add()/Clear().
class MemStorage final : public storage::Queryable {
 public:
  // Adds (or replaces, on an equal timestamp) one sample with start timestamp `st`.
  void Add(const model::Labels& lset, int64_t t, double v,
           int64_t st = storage::kNoStartTimestamp);
  // Adds many samples of one series; they need not be sorted. `sts` is empty (no start
  // timestamps) or gives the start timestamp of samples[i] at index i.
  // Requires: sts.empty() || sts.size() == samples.size().
  void AddSeries(const model::Labels& lset, const std::vector<model::Sample>& samples,
                 const std::vector<int64_t>& sts = {});
  void Clear() { series_.clear(); }
  size_t num_series() const { return series_.size(); }

  absl::StatusOr<std::unique_ptr<storage::Querier>> NewQuerier(int64_t mint,
                                                                int64_t maxt) override;

  // One series' data (public for the querier implementation, not part of the API proper).
  struct SeriesData {
    std::vector<model::Sample> samples;  // sorted by t, unique t
    std::vector<int64_t> sts;            // parallel to samples, or empty if none has one
  };

 private:
  std::map<model::Labels, SeriesData> series_;
};

struct Options {
  // Run with Prometheus 2.x semantics (the engine's compat_2x) and the 2.42 runner's rules.
  bool compat_2x = false;
};

// The outcome of one `eval` command.
struct EvalResult {
  enum class Outcome { kPassed, kFailed, kSkipped };
  Outcome outcome = Outcome::kPassed;
  int line = 0;            // 1-based line of the eval command
  std::string command;     // the eval line as written
  std::string message;     // why it failed (expected vs got), empty otherwise
};

struct FileResult {
  std::string name;
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  std::vector<EvalResult> evals;
};

// Runs the script `content` (named `name` in messages). Returns InvalidArgument, naming the
// line, if the script itself is malformed (unknown command, bad load line, bad duration);
// failing evals are reported in the result, not as an error.
absl::StatusOr<FileResult> RunTestScript(std::string_view content, std::string_view name,
                                         const Options& opts = {});

// Reads and runs the file at `path`. Returns NotFound/Unavailable if it cannot be read, and
// RunTestScript's errors.
absl::StatusOr<FileResult> RunTestFile(const std::string& path, const Options& opts = {});

}  // namespace strata::promql::promqltest
