#include "strata/tsdb/block/block.h"

#include <algorithm>
#include <limits>
#include <set>

#include "base/status_macros.h"
#include "fmt/format.h"
#include "strata/base/status.h"
#include "strata/chunkenc/xor.h"
#include "strata/index/postings_for_matchers.h"

namespace strata::tsdb::block {
namespace {

constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

// Iterates the samples of a series' chunks in order, skipping samples inside `deleted`
// (tombstones plus the parts outside the querier's range).
class BlockSampleIterator final : public storage::SampleIterator {
 public:
  BlockSampleIterator(std::shared_ptr<const Block> block, std::vector<index::ChunkMeta> chunks,
                      Intervals deleted)
      : block_(std::move(block)), chunks_(std::move(chunks)), deleted_(std::move(deleted)) {}

  bool Next() override {
    if (done_) return false;
    for (;;) {
      if (!in_chunk_ && !OpenNext(kMinTime)) return Finish();
      if (NextInChunk()) return true;
      if (done_) return false;
    }
  }

  bool Seek(int64_t t) override {
    if (done_) return false;
    if (has_cur_ && cur_.t >= t) return true;
    for (;;) {
      if (!in_chunk_ || chunks_[next_chunk_ - 1].max_time < t) {
        in_chunk_ = false;
        if (!OpenNext(t)) return Finish();
      }
      if (!it_.Seek(t)) {
        if (!it_.status().ok()) return Fail(it_.status());
        in_chunk_ = false;
        continue;
      }
      const model::Sample s = it_.At();
      if (!Deleted(s.t)) {
        cur_ = s;
        has_cur_ = true;
        return true;
      }
      if (NextInChunk()) return true;
      if (done_) return false;
    }
  }

  model::Sample At() const override { return cur_; }
  absl::Status status() const override { return status_; }

 private:
  bool Deleted(int64_t t) const {
    for (const auto& iv : deleted_) {
      if (iv.InBounds(t)) return true;
    }
    return false;
  }
  bool Finish() {
    done_ = true;
    has_cur_ = false;
    return false;
  }
  bool Fail(const absl::Status& s) {
    status_ = base::Annotate(s, fmt::format("block {}", block_->dir()));
    return Finish();
  }
  // Opens the next chunk whose max time is >= min_t.
  bool OpenNext(int64_t min_t) {
    while (next_chunk_ < chunks_.size()) {
      const index::ChunkMeta& c = chunks_[next_chunk_++];
      if (c.max_time < min_t) continue;
      auto data = block_->chunks().Chunk(c.ref);
      if (!data.ok()) return Fail(data.status());
      if (data->encoding != chunkenc::Encoding::kXor) {
        return Fail(absl::UnimplementedError(
            fmt::format("chunk {:#x} has encoding {}; only XOR float chunks are supported",
                        c.ref, static_cast<int>(data->encoding))));
      }
      it_.Reset(data->data);
      in_chunk_ = true;
      return true;
    }
    return false;
  }
  bool NextInChunk() {
    while (it_.Next()) {
      const model::Sample s = it_.At();
      if (Deleted(s.t)) continue;
      cur_ = s;
      has_cur_ = true;
      return true;
    }
    if (!it_.status().ok()) return Fail(it_.status());
    in_chunk_ = false;
    return false;
  }

  std::shared_ptr<const Block> block_;
  std::vector<index::ChunkMeta> chunks_;
  Intervals deleted_;
  chunkenc::XorIterator it_;
  size_t next_chunk_ = 0;
  bool in_chunk_ = false;
  bool done_ = false;
  bool has_cur_ = false;
  model::Sample cur_;
  absl::Status status_;
};

class BlockSeries final : public storage::Series {
 public:
  BlockSeries(std::shared_ptr<const Block> block, model::Labels lset,
              std::vector<index::ChunkMeta> chunks, Intervals deleted)
      : block_(std::move(block)),
        lset_(std::move(lset)),
        chunks_(std::move(chunks)),
        deleted_(std::move(deleted)) {}
  const model::Labels& labels() const override { return lset_; }
  std::unique_ptr<storage::SampleIterator> Iterator(
      std::unique_ptr<storage::SampleIterator>) const override {
    return std::make_unique<BlockSampleIterator>(block_, chunks_, deleted_);
  }

 private:
  std::shared_ptr<const Block> block_;
  model::Labels lset_;
  std::vector<index::ChunkMeta> chunks_;
  Intervals deleted_;
};

class BlockSeriesSet final : public storage::SeriesSet {
 public:
  BlockSeriesSet(std::shared_ptr<const Block> block, std::unique_ptr<index::Postings> postings,
                 int64_t mint, int64_t maxt)
      : block_(std::move(block)), postings_(std::move(postings)), mint_(mint), maxt_(maxt) {}

  bool Next() override {
    if (!status_.ok()) return false;
    model::Labels lset;
    std::vector<index::ChunkMeta> all;
    while (postings_->Next()) {
      const model::SeriesRef ref = postings_->At();
      absl::Status s = block_->index().Series(ref, &lset, &all);
      if (!s.ok()) {
        status_ = base::Annotate(s, fmt::format("block {}", block_->dir()));
        return false;
      }
      Intervals deleted = block_->tombstones().Get(ref);
      // As Prometheus's blockBaseSeriesSet: keep chunks that overlap [mint, maxt] and are
      // not entirely deleted; trim the edges of the range through deleted intervals.
      std::vector<index::ChunkMeta> chks;
      bool trim_front = false, trim_back = false;
      for (const auto& c : all) {
        if (c.max_time < mint_ || c.min_time > maxt_) continue;
        if (!IsSubrange(deleted, c.min_time, c.max_time)) chks.push_back(c);
        if (c.min_time < mint_) trim_front = true;
        if (c.max_time > maxt_) trim_back = true;
      }
      if (chks.empty()) continue;
      if (trim_front) AddInterval(&deleted, {kMinTime, mint_ - 1});
      if (trim_back) AddInterval(&deleted, {maxt_ + 1, kMaxTime});
      series_.push_back(std::make_unique<BlockSeries>(block_, std::move(lset), std::move(chks),
                                                      std::move(deleted)));
      return true;
    }
    status_ = postings_->status();
    if (!status_.ok()) status_ = base::Annotate(status_, fmt::format("block {}", block_->dir()));
    return false;
  }
  storage::Series& At() override { return *series_.back(); }
  absl::Status status() const override { return status_; }

 private:
  std::shared_ptr<const Block> block_;
  std::unique_ptr<index::Postings> postings_;
  int64_t mint_, maxt_;
  // Every series handed out stays valid until the set is destroyed (SeriesSet's contract).
  std::vector<std::unique_ptr<BlockSeries>> series_;
  absl::Status status_;
};

class BlockQuerier final : public storage::Querier {
 public:
  BlockQuerier(std::shared_ptr<const Block> block, int64_t mint, int64_t maxt)
      : block_(std::move(block)), mint_(mint), maxt_(maxt) {}

  std::unique_ptr<storage::SeriesSet> Select(const std::vector<model::Matcher>& matchers,
                                             const storage::SelectHints*) override {
    auto p = index::PostingsForMatchers(block_->index(), matchers);
    if (!p.ok()) {
      return storage::EmptySeriesSet(
          base::Annotate(p.status(), fmt::format("block {}", block_->dir())));
    }
    return std::make_unique<BlockSeriesSet>(block_, *std::move(p), mint_, maxt_);
  }

  absl::StatusOr<std::vector<std::string>> LabelNames(
      const std::vector<model::Matcher>& matchers) override {
    if (matchers.empty()) return block_->index().LabelNames();
    std::set<std::string> names;
    STRATA_RETURN_IF_ERROR(ForEachSeries(matchers, [&](const model::Labels& lset) {
      for (const auto& l : lset) names.emplace(l.name);
    }));
    return std::vector<std::string>(names.begin(), names.end());
  }

  absl::StatusOr<std::vector<std::string>> LabelValues(
      const std::string& name, const std::vector<model::Matcher>& matchers) override {
    if (matchers.empty()) return block_->index().LabelValues(name);
    std::set<std::string> values;
    STRATA_RETURN_IF_ERROR(ForEachSeries(matchers, [&](const model::Labels& lset) {
      std::string_view v = lset.Get(name);
      if (!v.empty()) values.emplace(v);
    }));
    return std::vector<std::string>(values.begin(), values.end());
  }

 private:
  template <typename F>
  absl::Status ForEachSeries(const std::vector<model::Matcher>& matchers, F f) {
    auto p = index::PostingsForMatchers(block_->index(), matchers);
    if (!p.ok()) return base::Annotate(p.status(), fmt::format("block {}", block_->dir()));
    model::Labels lset;
    std::vector<index::ChunkMeta> chks;
    while ((*p)->Next()) {
      absl::Status s = block_->index().Series((*p)->At(), &lset, &chks);
      if (!s.ok()) return base::Annotate(s, fmt::format("block {}", block_->dir()));
      f(lset);
    }
    return (*p)->status();
  }

  std::shared_ptr<const Block> block_;
  int64_t mint_, maxt_;
};

}  // namespace

Block::~Block() = default;

absl::StatusOr<std::shared_ptr<Block>> Block::Open(base::FileSystem& fs, std::string dir) {
  std::shared_ptr<Block> b(new Block());
  b->dir_ = std::move(dir);
  STRATA_ASSIGN_OR_RETURN(b->meta_, ReadMeta(fs, b->dir_));
  STRATA_ASSIGN_OR_RETURN(b->index_,
                          index::IndexReader::Open(fs, base::JoinPath(b->dir_, "index")));
  STRATA_ASSIGN_OR_RETURN(b->chunks_, ChunkReader::Open(fs, base::JoinPath(b->dir_, "chunks")));
  STRATA_ASSIGN_OR_RETURN(b->tombstones_, ReadTombstones(fs, b->dir_));
  auto ts_size = fs.FileSize(base::JoinPath(b->dir_, kTombstonesFileName));
  b->tombstones_size_ = ts_size.ok() ? *ts_size : 0;
  return b;
}

uint64_t Block::size() const { return index_->size() + chunks_->size() + tombstones_size_; }

absl::StatusOr<std::shared_ptr<Block>> Block::Delete(
    base::FileSystem& fs, int64_t mint, int64_t maxt,
    const std::vector<model::Matcher>& matchers) {
  auto p = index::PostingsForMatchers(*index_, matchers);
  if (!p.ok()) return base::Annotate(p.status(), fmt::format("delete in block {}", dir_));
  Tombstones stones;
  model::Labels lset;
  std::vector<index::ChunkMeta> chks;
  while ((*p)->Next()) {
    const model::SeriesRef ref = (*p)->At();
    absl::Status s = index_->Series(ref, &lset, &chks);
    if (!s.ok()) return base::Annotate(s, fmt::format("delete in block {}", dir_));
    for (const auto& c : chks) {
      if (c.min_time <= maxt && mint <= c.max_time) {
        // Delete only up to the series' own samples, as Prometheus does.
        stones.Add(ref, ClampInterval(mint, maxt, chks.front().min_time, chks.back().max_time));
        break;
      }
    }
  }
  if (!(*p)->status().ok()) {
    return base::Annotate((*p)->status(), fmt::format("delete in block {}", dir_));
  }
  stones.Merge(tombstones_);
  if (stones == tombstones_) return shared_from_this();
  STRATA_RETURN_IF_ERROR(WriteTombstones(fs, dir_, stones));
  BlockMeta meta = meta_;
  meta.stats.num_tombstones = stones.NumIntervals();
  STRATA_RETURN_IF_ERROR(WriteMeta(fs, dir_, meta));
  return Open(fs, dir_);
}

absl::StatusOr<std::unique_ptr<storage::Querier>> Block::NewQuerier(int64_t mint, int64_t maxt) {
  return std::unique_ptr<storage::Querier>(
      std::make_unique<BlockQuerier>(shared_from_this(), mint, maxt));
}

}  // namespace strata::tsdb::block
