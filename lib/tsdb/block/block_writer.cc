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
BlockWriter::~BlockWriter() = default;

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
  series_.push_back(Series{std::move(lset), {}, std::move(chunks), false});
  return absl::OkStatus();
}

void BlockWriter::AddSymbol(std::string symbol) { extra_symbols_.insert(std::move(symbol)); }

absl::StatusOr<BlockMeta> BlockWriter::Flush() {
  if (flushed_) return absl::FailedPreconditionError("block writer: already flushed");
  flushed_ = true;
  if (opts_.chunk_range <= 0) {
    return absl::InvalidArgumentError("block writer: chunk_range must be positive");
  }

  std::sort(series_.begin(), series_.end(),
            [](const Series& a, const Series& b) { return a.lset < b.lset; });
  const chunkenc::XorOptions xor_opts{.prometheus_2_42 = opts_.prometheus_2_42};
  BlockMeta meta;
  int64_t mint = std::numeric_limits<int64_t>::max();
  int64_t maxt = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < series_.size(); ++i) {
    Series& s = series_[i];
    if (i > 0 && s.lset == series_[i - 1].lset) {
      return absl::InvalidArgumentError(
          fmt::format("block writer: series {} added twice", s.lset.ToString()));
    }
    if (s.raw) {
      s.chunks = CutChunks(s.samples, opts_.chunk_range, xor_opts);
      s.samples = {};
    }
    for (const auto& c : s.chunks) {
      mint = std::min(mint, c.min_time);
      maxt = std::max(maxt, c.max_time);
      meta.stats.num_samples += c.num_samples;
      ++meta.stats.num_chunks;
    }
    if (!s.chunks.empty()) ++meta.stats.num_series;
  }
  if (meta.stats.num_series == 0) {
    return absl::FailedPreconditionError("block writer: no samples to write");
  }
  meta.min_time = opts_.min_time.value_or(mint);
  meta.max_time = opts_.max_time.value_or(maxt + 1);
  if (mint < meta.min_time || maxt >= meta.max_time) {
    return absl::InvalidArgumentError(
        fmt::format("block writer: samples span [{}, {}], outside the block range [{}, {})",
                    mint, maxt, meta.min_time, meta.max_time));
  }
  meta.ulid = opts_.ulid.has_value() ? *opts_.ulid : NewUlid(NowUnixMs());
  if (opts_.compaction.has_value()) {
    meta.compaction = *opts_.compaction;
  } else {
    meta.compaction.level = 1;
    meta.compaction.sources = {meta.ulid};
  }

  const std::string final_dir = base::JoinPath(parent_, meta.ulid.ToString());
  const std::string tmp = final_dir + ".tmp-for-creation";
  auto write = [&]() -> absl::Status {
    STRATA_RETURN_IF_ERROR(fs_.RemoveAll(tmp));
    STRATA_RETURN_IF_ERROR(fs_.CreateDirs(tmp));

    // Chunks first (series order), collecting each series' chunk metas for the index.
    STRATA_ASSIGN_OR_RETURN(auto cw, ChunkWriter::Create(fs_, base::JoinPath(tmp, "chunks"),
                                                         opts_.segment_size));
    std::vector<std::vector<index::ChunkMeta>> metas(series_.size());
    std::vector<ChunkData> batch;
    std::vector<uint64_t> refs;
    std::set<std::string_view> symbols = {""};  // Prometheus's all-postings key
    for (const std::string& sym : extra_symbols_) symbols.insert(sym);
    for (size_t i = 0; i < series_.size(); ++i) {
      const Series& s = series_[i];
      if (s.chunks.empty()) continue;
      batch.clear();
      for (const auto& c : s.chunks) batch.push_back(ChunkData{c.encoding, c.data});
      STRATA_RETURN_IF_ERROR(cw->WriteChunks(batch, &refs));
      for (size_t j = 0; j < s.chunks.size(); ++j) {
        metas[i].push_back({refs[j], s.chunks[j].min_time, s.chunks[j].max_time});
      }
      for (const auto& l : s.lset) {
        symbols.insert(l.name);
        symbols.insert(l.value);
      }
    }
    STRATA_RETURN_IF_ERROR(cw->Close());

    STRATA_ASSIGN_OR_RETURN(auto iw,
                            index::IndexWriter::Create(fs_, base::JoinPath(tmp, "index")));
    for (std::string_view sym : symbols) STRATA_RETURN_IF_ERROR(iw->AddSymbol(sym));
    for (size_t i = 0; i < series_.size(); ++i) {
      if (metas[i].empty()) continue;
      STRATA_RETURN_IF_ERROR(iw->AddSeries(series_[i].lset, metas[i]).status());
    }
    STRATA_RETURN_IF_ERROR(iw->Close());

    STRATA_RETURN_IF_ERROR(WriteMeta(fs_, tmp, meta));
    STRATA_RETURN_IF_ERROR(WriteTombstones(fs_, tmp, Tombstones()));
    STRATA_RETURN_IF_ERROR(fs_.SyncDir(base::JoinPath(tmp, "chunks")));
    STRATA_RETURN_IF_ERROR(fs_.SyncDir(tmp));
    STRATA_RETURN_IF_ERROR(fs_.Rename(tmp, final_dir));
    return fs_.SyncDir(parent_);
  };
  absl::Status s = write();
  if (!s.ok()) {
    (void)fs_.RemoveAll(tmp);
    return base::Annotate(s, fmt::format("writing block {}", final_dir));
  }
  series_.clear();
  return meta;
}

}  // namespace strata::tsdb::block
