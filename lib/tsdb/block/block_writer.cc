#include "strata/tsdb/block/block_writer.h"

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "base/status_macros.h"
#include "fmt/format.h"
#include "strata/base/status.h"
#include "strata/index/index_writer.h"
#include "strata/tsdb/block/tombstones.h"

namespace strata::tsdb::block {
namespace {

// The head cuts a chunk after this many samples at the latest (2 x samplesPerChunk = 120 in
// tsdb/head_append.go) and re-estimates the chunk's end after a quarter of them.
constexpr int kSamplesPerChunk = 120;

// End of the aligned window of width `width` containing t (Go's rangeForTimestamp; integer
// division truncates toward zero in both languages).
int64_t RangeForTimestamp(int64_t t, int64_t width) { return (t / width) * width + width; }

// Go's computeChunkEndTime: spread the rest of the window evenly over chunks of the rate
// observed so far.
int64_t ComputeChunkEndTime(int64_t start, int64_t cur, int64_t max) {
  const int64_t n = (max - start) / ((cur - start + 1) * 4);
  if (n <= 1) return max;
  return start + (max - start) / n;
}

}  // namespace

ChunkCutter::ChunkCutter(int64_t chunk_range, chunkenc::XorOptions opts)
    : chunk_range_(chunk_range), opts_(opts) {}

void ChunkCutter::Append(int64_t t, double v) {
  bool cut = !app_.has_value();
  if (!cut) {
    const uint64_t n = cur_->num_samples;
    if (n == kSamplesPerChunk / 4) next_at_ = ComputeChunkEndTime(cur_->min_time, cur_->max_time, next_at_);
    cut = t >= next_at_ || n >= 2 * kSamplesPerChunk;
  }
  if (cut) {
    if (app_.has_value()) {
      app_.reset();
      done_.push_back(std::move(*cur_));
    }
    if (cur_ == nullptr) cur_ = std::make_unique<EncodedChunk>();
    *cur_ = EncodedChunk();
    cur_->min_time = t;
    next_at_ = RangeForTimestamp(t, chunk_range_);
    app_.emplace(&cur_->data, opts_);
  }
  app_->Append(t, v);
  cur_->max_time = t;
  ++cur_->num_samples;
  last_t_ = t;
  last_v_ = v;
  ++num_samples_;
}

std::vector<EncodedChunk> ChunkCutter::Finish() {
  if (app_.has_value()) {
    app_.reset();
    done_.push_back(std::move(*cur_));
  }
  cur_.reset();
  num_samples_ = 0;
  return std::exchange(done_, {});
}

std::vector<EncodedChunk> CutChunks(const std::vector<model::Sample>& samples,
                                    int64_t chunk_range, chunkenc::XorOptions opts) {
  ChunkCutter cutter(chunk_range, opts);
  for (const model::Sample& s : samples) cutter.Append(s.t, s.v);
  return cutter.Finish();
}

struct BlockWriter::Series {
  model::Labels lset;
  std::vector<model::Sample> samples;  // raw samples, or
  std::vector<EncodedChunk> chunks;    // encoded chunks
  bool raw = true;
};

BlockWriter::BlockWriter(base::FileSystem& fs, std::string parent, BlockWriterOptions opts)
    : fs_(fs), parent_(std::move(parent)), opts_(std::move(opts)) {}

BlockWriter::~BlockWriter() {
  if (!tmp_.empty()) (void)fs_.RemoveAll(tmp_);  // best effort: not flushed successfully
}

std::string BlockWriter::FinalDir() const { return base::JoinPath(parent_, ulid_->ToString()); }

absl::Status BlockWriter::AddSeries(model::Labels lset, std::vector<model::Sample> samples) {
  if (lset.empty()) return absl::InvalidArgumentError("block writer: series with no labels");
  std::stable_sort(samples.begin(), samples.end(),
                   [](const model::Sample& a, const model::Sample& b) { return a.t < b.t; });
  size_t w = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (w > 0 && samples[w - 1].t == samples[i].t) {
      if (!(samples[w - 1] == samples[i])) {
        return absl::InvalidArgumentError(
            fmt::format("block writer: series {}: two different values at timestamp {}",
                        lset.ToString(), samples[i].t));
      }
      continue;
    }
    samples[w++] = samples[i];
  }
  samples.resize(w);
  if (opts_.sorted_series) {
    if (opts_.chunk_range <= 0) {
      return absl::InvalidArgumentError("block writer: chunk_range must be positive");
    }
    const chunkenc::XorOptions xor_opts{.prometheus_2_42 = opts_.prometheus_2_42};
    return WriteSorted(std::move(lset), CutChunks(samples, opts_.chunk_range, xor_opts));
  }
  series_.push_back(Series{std::move(lset), std::move(samples), {}, true});
  return absl::OkStatus();
}

absl::Status BlockWriter::AddChunks(model::Labels lset, std::vector<EncodedChunk> chunks) {
  if (lset.empty()) return absl::InvalidArgumentError("block writer: series with no labels");
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].min_time > chunks[i].max_time ||
        (i > 0 && chunks[i].min_time <= chunks[i - 1].max_time)) {
      return absl::InvalidArgumentError(fmt::format(
          "block writer: series {}: chunk {} out of order or overlapping", lset.ToString(), i));
    }
  }
  if (opts_.sorted_series) return WriteSorted(std::move(lset), std::move(chunks));
  series_.push_back(Series{std::move(lset), {}, std::move(chunks), false});
  return absl::OkStatus();
}

void BlockWriter::AddSymbol(std::string symbol) { extra_symbols_.insert(std::move(symbol)); }

absl::Status BlockWriter::WriteSorted(model::Labels lset, std::vector<EncodedChunk> chunks) {
  if (flushed_) return absl::FailedPreconditionError("block writer: already flushed");
  STRATA_RETURN_IF_ERROR(error_);
  if (!written_.empty()) {
    const model::Labels& prev = written_.back().lset;
    if (lset == prev) {
      return absl::InvalidArgumentError(
          fmt::format("block writer: series {} added twice", lset.ToString()));
    }
    if (lset < prev) {
      return absl::InvalidArgumentError(fmt::format(
          "block writer: series {} added after {}: sorted_series needs increasing label sets",
          lset.ToString(), prev.ToString()));
    }
  }
  if (chunks.empty()) return absl::OkStatus();
  // With a set range, a sample outside it is refused before anything of it is written.
  const int64_t lo = chunks.front().min_time, hi = chunks.back().max_time;
  if ((opts_.min_time.has_value() && lo < *opts_.min_time) ||
      (opts_.max_time.has_value() && hi >= *opts_.max_time)) {
    return absl::InvalidArgumentError(
        fmt::format("block writer: series {}: samples span [{}, {}], outside the block range "
                    "[{}, {})",
                    lset.ToString(), lo, hi, opts_.min_time.value_or(lo),
                    opts_.max_time.value_or(hi + 1)));
  }
  error_ = WriteSeries(std::move(lset), std::move(chunks));
  return error_;
}

absl::Status BlockWriter::WriteSeries(model::Labels lset, std::vector<EncodedChunk> chunks) {
  if (chunk_writer_ == nullptr) {
    ulid_ = opts_.ulid.has_value() ? *opts_.ulid : NewUlid(NowUnixMs());
    tmp_ = FinalDir() + ".tmp-for-creation";
    STRATA_RETURN_IF_ERROR(fs_.RemoveAll(tmp_));
    STRATA_RETURN_IF_ERROR(fs_.CreateDirs(tmp_));
    STRATA_ASSIGN_OR_RETURN(chunk_writer_, ChunkWriter::Create(fs_, base::JoinPath(tmp_, "chunks"),
                                                               opts_.segment_size));
  }
  std::vector<ChunkData> batch;
  batch.reserve(chunks.size());
  for (const auto& c : chunks) batch.push_back(ChunkData{c.encoding, c.data});
  std::vector<uint64_t> refs;
  absl::Status s = chunk_writer_->WriteChunks(batch, &refs);
  if (!s.ok()) return base::Annotate(s, fmt::format("writing block {}", FinalDir()));
  Written w{std::move(lset), {}};
  w.chunks.reserve(chunks.size());
  for (size_t j = 0; j < chunks.size(); ++j) {
    w.chunks.push_back({refs[j], chunks[j].min_time, chunks[j].max_time});
    mint_ = std::min(mint_, chunks[j].min_time);
    maxt_ = std::max(maxt_, chunks[j].max_time);
    num_samples_ += chunks[j].num_samples;
  }
  num_chunks_ += chunks.size();
  written_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::StatusOr<BlockMeta> BlockWriter::Flush() {
  if (flushed_) return absl::FailedPreconditionError("block writer: already flushed");
  if (opts_.chunk_range <= 0) {
    flushed_ = true;
    return absl::InvalidArgumentError("block writer: chunk_range must be positive");
  }
  if (!opts_.sorted_series) {
    // Sorting is all that the unsorted mode adds: the series then take the sorted path.
    std::sort(series_.begin(), series_.end(),
              [](const Series& a, const Series& b) { return a.lset < b.lset; });
    const chunkenc::XorOptions xor_opts{.prometheus_2_42 = opts_.prometheus_2_42};
    std::vector<Series> series = std::move(series_);
    series_.clear();
    for (Series& s : series) {
      std::vector<EncodedChunk> chunks =
          s.raw ? CutChunks(s.samples, opts_.chunk_range, xor_opts) : std::move(s.chunks);
      s.samples = {};
      absl::Status st = WriteSorted(s.lset, std::move(chunks));
      if (!st.ok()) {
        flushed_ = true;
        return st;
      }
    }
  }
  flushed_ = true;
  STRATA_RETURN_IF_ERROR(error_);
  return Finish();
}

absl::StatusOr<BlockMeta> BlockWriter::Finish() {
  if (written_.empty()) {
    return absl::FailedPreconditionError("block writer: no samples to write");
  }
  BlockMeta meta;
  meta.stats.num_series = written_.size();
  meta.stats.num_samples = num_samples_;
  meta.stats.num_chunks = num_chunks_;
  meta.min_time = opts_.min_time.value_or(mint_);
  meta.max_time = opts_.max_time.value_or(maxt_ + 1);
  meta.ulid = *ulid_;
  if (opts_.compaction.has_value()) {
    meta.compaction = *opts_.compaction;
  } else {
    meta.compaction.level = 1;
    meta.compaction.sources = {meta.ulid};
  }

  const std::string final_dir = FinalDir();
  auto write = [&]() -> absl::Status {
    STRATA_RETURN_IF_ERROR(chunk_writer_->Close());
    std::set<std::string_view> symbols = {""};  // Prometheus's all-postings key
    for (const std::string& sym : extra_symbols_) symbols.insert(sym);
    for (const Written& w : written_) {
      for (const auto& l : w.lset) {
        symbols.insert(l.name);
        symbols.insert(l.value);
      }
    }
    STRATA_ASSIGN_OR_RETURN(auto iw,
                            index::IndexWriter::Create(fs_, base::JoinPath(tmp_, "index")));
    for (std::string_view sym : symbols) STRATA_RETURN_IF_ERROR(iw->AddSymbol(sym));
    for (const Written& w : written_) {
      STRATA_RETURN_IF_ERROR(iw->AddSeries(w.lset, w.chunks).status());
    }
    STRATA_RETURN_IF_ERROR(iw->Close());

    STRATA_RETURN_IF_ERROR(WriteMeta(fs_, tmp_, meta));
    STRATA_RETURN_IF_ERROR(WriteTombstones(fs_, tmp_, Tombstones()));
    STRATA_RETURN_IF_ERROR(fs_.SyncDir(base::JoinPath(tmp_, "chunks")));
    STRATA_RETURN_IF_ERROR(fs_.SyncDir(tmp_));
    STRATA_RETURN_IF_ERROR(fs_.Rename(tmp_, final_dir));
    tmp_.clear();
    return fs_.SyncDir(parent_);
  };
  absl::Status s = write();
  if (!s.ok()) return base::Annotate(s, fmt::format("writing block {}", final_dir));
  written_.clear();
  return meta;
}

}  // namespace strata::tsdb::block
