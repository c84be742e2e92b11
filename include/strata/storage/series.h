// strata::storage series and iterators: the read protocol every source implements.
//
// One protocol for chunks, series and samples (STYLE.md section 5): Next()/Seek() return
// false at the end or on error, At() is valid after a true return, status() says why
// iteration stopped (OK at a clean end). Iterators are single-threaded.
//
// Start timestamps: a sample may carry the start ("created") time of the interval its value
// accumulates over (OpenTelemetry's start time, Prometheus's ST). SampleIterator::AtST()
// exposes it; sources that do not know it return kNoStartTimestamp, the default. PromQL's
// rate/increase/irate/resets use it (promql/functions.go, start_timestamps.test). Only
// in-memory sources provide it for now: the head, WAL and block formats are Prometheus
// 2.42's, which have no field for it, so samples read from them never carry one. Merged
// queriers (NewMergeQuerier) pass it through from the source whose sample they emit.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"

namespace strata::storage {

// AtST()'s "no start timestamp" value. 0, as in Prometheus, where a start timestamp of 0
// means "unknown" (so a start exactly at the Unix epoch cannot be expressed either).
inline constexpr int64_t kNoStartTimestamp = 0;

class SampleIterator {
 public:
  virtual ~SampleIterator() = default;
  // Advances to the next sample. False at the end or on error.
  virtual bool Next() = 0;
  // Advances to the first sample with timestamp >= t; never moves backwards (if the current
  // sample already has ts >= t it stays). False if there is none or on error.
  virtual bool Seek(int64_t t) = 0;
  // Requires: the last Next()/Seek() returned true.
  virtual model::Sample At() const = 0;
  // The start timestamp (ms) of the sample At() returns, or kNoStartTimestamp if the source
  // does not know it. The default is for sources without start timestamps.
  // Requires: the last Next()/Seek() returned true.
  virtual int64_t AtST() const { return kNoStartTimestamp; }
  // Why iteration stopped: OK at a clean end, DataLoss for corrupt data, etc.
  virtual absl::Status status() const = 0;
};

// A series: its labels and a way to iterate its samples in time order.
class Series {
 public:
  virtual ~Series() = default;
  // Valid while the Series lives.
  virtual const model::Labels& labels() const = 0;
  // A fresh iterator over the series' samples (within the querier's [mint, maxt]).
  // `reuse` may be an iterator previously returned by this or another series of the same
  // source, which the implementation may recycle to avoid allocation; may be null.
  virtual std::unique_ptr<SampleIterator> Iterator(
      std::unique_ptr<SampleIterator> reuse = nullptr) const = 0;
};

// Series sorted by labels (model::Compare). Next()/At()/status() as above; the Series
// returned by At() stays valid until the set is destroyed.
class SeriesSet {
 public:
  virtual ~SeriesSet() = default;
  virtual bool Next() = 0;
  // Requires: the last Next() returned true.
  virtual Series& At() = 0;
  virtual absl::Status status() const = 0;
  // Non-fatal problems met while reading (a store was unreachable, ...), as Prometheus's
  // annotations/warnings.
  virtual std::vector<absl::Status> warnings() const { return {}; }
};

// A SampleIterator over an in-memory vector; useful for tests and for sources that
// materialise samples.
class VectorSampleIterator final : public SampleIterator {
 public:
  explicit VectorSampleIterator(std::vector<model::Sample> samples)
      : samples_(std::move(samples)) {}
  bool Next() override { return ++i_ < static_cast<int64_t>(samples_.size()); }
  bool Seek(int64_t t) override {
    if (i_ < 0) i_ = 0;
    while (i_ < static_cast<int64_t>(samples_.size()) && samples_[i_].t < t) ++i_;
    return i_ < static_cast<int64_t>(samples_.size());
  }
  model::Sample At() const override { return samples_[i_]; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::vector<model::Sample> samples_;
  int64_t i_ = -1;
};

// A Series backed by a vector of samples.
class VectorSeries final : public Series {
 public:
  VectorSeries(model::Labels lset, std::vector<model::Sample> samples)
      : lset_(std::move(lset)), samples_(std::move(samples)) {}
  const model::Labels& labels() const override { return lset_; }
  std::unique_ptr<SampleIterator> Iterator(std::unique_ptr<SampleIterator>) const override {
    return std::make_unique<VectorSampleIterator>(samples_);
  }
  const std::vector<model::Sample>& samples() const { return samples_; }

 private:
  model::Labels lset_;
  std::vector<model::Sample> samples_;
};

// A SeriesSet over owned series; sorts them by labels on construction.
class VectorSeriesSet final : public SeriesSet {
 public:
  explicit VectorSeriesSet(std::vector<std::unique_ptr<Series>> series,
                           absl::Status status = absl::OkStatus());
  bool Next() override { return ++i_ < static_cast<int64_t>(series_.size()); }
  Series& At() override { return *series_[i_]; }
  absl::Status status() const override { return status_; }

 private:
  std::vector<std::unique_ptr<Series>> series_;
  absl::Status status_;
  int64_t i_ = -1;
};

// An empty set, or one that failed with `status`.
std::unique_ptr<SeriesSet> EmptySeriesSet(absl::Status status = absl::OkStatus());

}  // namespace strata::storage
