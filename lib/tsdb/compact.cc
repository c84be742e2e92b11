// Compaction planner and block merge (see strata/tsdb/compact.h).
#include "strata/tsdb/compact.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <numeric>
#include <utility>

#include "base/status_macros.h"
#include "fmt/format.h"
#include "strata/base/status.h"
#include "strata/chunkenc/xor.h"
#include "strata/tsdb/block/block_writer.h"

namespace strata::tsdb {
namespace {

constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

// Samples per chunk when overlapping chunks are re-encoded (Prometheus's
// seriesToChunkEncoderSplit in storage/series.go).
constexpr int kMergedChunkSamples = 120;

// A binary heap with exactly the sift rules of Go's container/heap (Push = append + up,
// Pop = swap root with last + down). Prometheus's merges pop equal keys in the order these
// rules give, which decides which of two samples with one timestamp survives; mirroring them
// keeps our output identical to Prometheus's even then.
template <typename T, typename Less>
class GoHeap {
 public:
  explicit GoHeap(Less less) : less_(std::move(less)) {}
  bool empty() const { return v_.empty(); }
  const T& Top() const { return v_.front(); }
  void Push(T x) {
    v_.push_back(std::move(x));
    size_t j = v_.size() - 1;
    while (j > 0) {
      const size_t i = (j - 1) / 2;
      if (!less_(v_[j], v_[i])) break;
      std::swap(v_[i], v_[j]);
      j = i;
    }
  }
  T Pop() {
    const size_t n = v_.size() - 1;
    std::swap(v_[0], v_[n]);
    size_t i = 0;
    for (;;) {
      const size_t j1 = 2 * i + 1;
      if (j1 >= n) break;
      size_t j = j1;
      if (j1 + 1 < n && less_(v_[j1 + 1], v_[j1])) j = j1 + 1;
      if (!less_(v_[j], v_[i])) break;
      std::swap(v_[i], v_[j]);
      i = j;
    }
    T x = std::move(v_.back());
    v_.pop_back();
    return x;
  }

 private:
  Less less_;
  std::vector<T> v_;
};

// One chunk of a series during a merge. `data` borrows the input block's mapping or an
// arena string that outlives the series' processing.
struct Chk {
  int64_t mint = 0;
  int64_t maxt = 0;
  chunkenc::Encoding encoding = chunkenc::Encoding::kXor;
  std::string_view data;
};

// Every chunk encoding Prometheus 2.42 writes starts with a 2-byte big-endian sample count
// (chunkenc's NumSamples reads it).
uint64_t NumSamples(std::string_view data) {
  if (data.size() < 2) return 0;
  return (static_cast<uint64_t>(static_cast<uint8_t>(data[0])) << 8) |
         static_cast<uint8_t>(data[1]);
}

bool Overlaps(const Chk& c, const block::Interval& iv) {
  return c.mint <= iv.maxt && iv.mint <= c.maxt;
}

// The series of one input block in label order, each with its chunks after tombstones and
// the output range are applied: Prometheus's blockChunkSeriesSet + populateWithDel chunk
// iterator over [mint, maxt].
class BlockSeriesReader {
 public:
  BlockSeriesReader(const block::Block& b, int64_t mint, int64_t maxt)
      : b_(b), mint_(mint), maxt_(maxt) {}

  absl::Status Init() {
    auto p = b_.index().AllPostings();
    if (!p.ok()) return Wrap(p.status());
    postings_ = *std::move(p);
    return absl::OkStatus();
  }

  // Advances to the next series that keeps at least one chunk. False at the end or on
  // error (then status()). Invalidates the previous series' chunks.
  bool Next() {
    if (!status_.ok()) return false;
    arena_.clear();
    while (postings_->Next()) {
      const model::SeriesRef ref = postings_->At();
      model::Labels lset;
      absl::Status s = b_.index().Series(ref, &lset, &metas_);
      if (!s.ok()) return Fail(s);
      if (has_prev_ && !(lset_ < lset)) {
        return Fail(absl::DataLossError(
            fmt::format("index: series {} (ref {}) is not after {} in label order",
                        lset.ToString(), ref, lset_.ToString())));
      }
      lset_ = std::move(lset);
      has_prev_ = true;
      if (metas_.empty()) continue;
      if (!Populate(ref)) return false;
      if (!chks_.empty()) return true;
    }
    status_ = postings_->status();
    if (!status_.ok()) status_ = Wrap(status_);
    return false;
  }

  const model::Labels& labels() const { return lset_; }
  const std::vector<Chk>& chunks() const { return chks_; }
  const absl::Status& status() const { return status_; }

 private:
  absl::Status Wrap(const absl::Status& s) const {
    return base::Annotate(s, fmt::format("compact: block {}", b_.dir()));
  }
  bool Fail(const absl::Status& s) {
    status_ = Wrap(s);
    return false;
  }

  // Fills chks_ for series `ref` from metas_. False on error.
  bool Populate(model::SeriesRef ref) {
    chks_.clear();
    block::Intervals deleted = b_.tombstones().Get(ref);
    bool trim_front = false, trim_back = false;
    kept_.clear();
    for (const index::ChunkMeta& c : metas_) {
      if (c.max_time < mint_ || c.min_time > maxt_) continue;
      if (!block::IsSubrange(deleted, c.min_time, c.max_time)) kept_.push_back(c);
      if (c.min_time < mint_) trim_front = true;
      if (c.max_time > maxt_) trim_back = true;
    }
    if (kept_.empty()) return true;
    if (trim_front) block::AddInterval(&deleted, {kMinTime, mint_ - 1});
    if (trim_back) block::AddInterval(&deleted, {maxt_ + 1, kMaxTime});
    for (const index::ChunkMeta& c : kept_) {
      auto cd = b_.chunks().Chunk(c.ref);
      if (!cd.ok()) return Fail(base::Annotate(cd.status(), lset_.ToString()));
      Chk chk{c.min_time, c.max_time, cd->encoding, cd->data};
      cut_.clear();
      for (const auto& iv : deleted) {
        if (Overlaps(chk, iv)) cut_.push_back(iv);
      }
      if (cut_.empty()) {  // untouched: copied verbatim
        chks_.push_back(chk);
        continue;
      }
      // A tombstone (or the range edge) cuts the chunk: re-encode what is left, as
      // populateWithDelChunkSeriesIterator does, into one fresh XOR chunk.
      if (cd->encoding != chunkenc::Encoding::kXor) {
        return Fail(absl::UnimplementedError(fmt::format(
            "series {}: chunk {:#x} has encoding {}; only XOR chunks can be re-encoded",
            lset_.ToString(), c.ref, static_cast<int>(cd->encoding))));
      }
      std::string& buf = arena_.emplace_back();
      chunkenc::XorAppender app(&buf, chunkenc::XorOptions{.prometheus_2_42 = true});
      chunkenc::XorIterator it(cd->data);
      bool any = false;
      while (it.Next()) {
        const model::Sample s = it.At();
        bool del = false;
        for (const auto& iv : cut_) del = del || iv.InBounds(s.t);
        if (del) continue;
        if (!any) chk.mint = s.t;
        any = true;
        chk.maxt = s.t;
        app.Append(s.t, s.v);
      }
      if (!it.status().ok()) {
        return Fail(base::Annotate(it.status(),
                                   fmt::format("series {} chunk {:#x}", lset_.ToString(), c.ref)));
      }
      // Every sample deleted although the chunk's range was not wholly inside one interval:
      // drop the chunk and keep going (Prometheus 2.42 stopped the series here, losing its
      // later chunks; newer versions continue, as we do).
      if (!any) continue;
      chk.encoding = chunkenc::Encoding::kXor;
      chk.data = buf;
      chks_.push_back(chk);
    }
    return true;
  }

  const block::Block& b_;
  const int64_t mint_, maxt_;
  std::unique_ptr<index::Postings> postings_;
  model::Labels lset_;
  bool has_prev_ = false;
  std::vector<index::ChunkMeta> metas_;
  std::vector<index::ChunkMeta> kept_;
  block::Intervals cut_;
  std::vector<Chk> chks_;
  // Re-encoded chunk bytes of the current series (deque: stable addresses).
  std::deque<std::string> arena_;
  absl::Status status_;
};

// Merges the samples of overlapping chunks `in` (Prometheus's ChainedSeriesMerge over chunk
// decoders, in this order) and encodes them into chunks of at most 120 samples appended to
// *out, their bytes kept in *arena.
absl::Status MergeOverlapping(const std::vector<Chk>& in, const model::Labels& lset,
                              std::vector<Chk>* out, std::deque<std::string>* arena) {
  std::vector<chunkenc::XorIterator> iters(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].encoding != chunkenc::Encoding::kXor) {
      return absl::UnimplementedError(
          fmt::format("compact: series {}: overlapping chunks of encoding {} cannot be merged; "
                      "only XOR chunks are supported",
                      lset.ToString(), static_cast<int>(in[i].encoding)));
    }
    iters[i].Reset(in[i].data);
  }
  auto less = [](const chunkenc::XorIterator* a, const chunkenc::XorIterator* b) {
    return a->AtT() < b->AtT();
  };
  GoHeap<chunkenc::XorIterator*, decltype(less)> h(less);
  auto fail = [&](const chunkenc::XorIterator& it) {
    return base::Annotate(it.status(), fmt::format("compact: series {}", lset.ToString()));
  };
  // chainSampleIterator: iterators[0] is current without being advanced; the others are
  // advanced once and heaped.
  chunkenc::XorIterator* curr = &iters[0];
  for (size_t i = 1; i < iters.size(); ++i) {
    if (iters[i].Next()) {
      h.Push(&iters[i]);
    } else if (!iters[i].status().ok()) {
      return fail(iters[i]);
    }
  }
  bool has_prev = false;
  int64_t last_t = 0;
  std::string* buf = nullptr;
  std::optional<chunkenc::XorAppender> app;
  Chk cur;
  int n = 0;
  auto emit = [&]() {
    if (app.has_value()) {
      app.reset();
      cur.data = *buf;
      out->push_back(cur);
    }
  };
  while (curr != nullptr) {
    int64_t t = 0;
    bool found = false;
    for (;;) {
      if (curr->Next()) {
        t = curr->AtT();
        if (has_prev && t == last_t) continue;  // a later duplicate of an emitted timestamp
        if (h.empty() || t < h.Top()->AtT()) {
          found = true;
          break;
        }
        h.Push(curr);
      } else {
        if (!curr->status().ok()) return fail(*curr);
        if (h.empty()) {
          curr = nullptr;
          break;
        }
      }
      curr = h.Pop();
      t = curr->AtT();
      if (!has_prev || t != last_t) {
        found = true;
        break;
      }
    }
    if (!found) break;
    has_prev = true;
    last_t = t;
    if (!app.has_value() || n >= kMergedChunkSamples) {
      emit();
      buf = &arena->emplace_back();
      app.emplace(buf, chunkenc::XorOptions{.prometheus_2_42 = true});
      cur = Chk{t, t, chunkenc::Encoding::kXor, {}};
      n = 0;
    }
    app->Append(t, curr->At().v);
    cur.maxt = t;
    ++n;
  }
  emit();
  return absl::OkStatus();
}

// Prometheus's compactChunkIterator over the chunk lists of one series from several inputs
// (in the order the series merge popped them). Non-overlapping chunks pass through
// verbatim; each run of overlapping chunks is merged and re-encoded.
absl::Status CompactChunks(const std::vector<const std::vector<Chk>*>& lists,
                           const model::Labels& lset, std::vector<Chk>* out,
                           std::deque<std::string>* arena) {
  struct ListIt {
    const std::vector<Chk>* chks;
    size_t next = 0;  // index of the chunk after the current one
    const Chk& At() const { return (*chks)[next - 1]; }
    bool Next() { return ++next <= chks->size(); }
  };
  std::deque<ListIt> its;
  std::deque<std::vector<Chk>> merged_lists;
  auto less = [](const ListIt* a, const ListIt* b) {
    const Chk& x = a->At();
    const Chk& y = b->At();
    if (x.mint == y.mint) return x.maxt < y.maxt;
    return x.mint < y.mint;
  };
  GoHeap<ListIt*, decltype(less)> h(less);
  for (const auto* l : lists) {
    ListIt& it = its.emplace_back(ListIt{l});
    if (it.Next()) h.Push(&it);
  }
  std::vector<Chk> overlapping;
  while (!h.empty()) {
    ListIt* it = h.Pop();
    Chk curr = it->At();
    if (it->Next()) h.Push(it);
    overlapping.clear();
    int64_t omax = curr.maxt;
    Chk prev = curr;
    while (!h.empty()) {
      const Chk& next = h.Top()->At();
      if (next.mint > omax) break;
      // 1:1 duplicates (same range and bytes) are skipped without re-encoding.
      if (next.mint != prev.mint || next.maxt != prev.maxt || next.data != prev.data) {
        overlapping.push_back(next);
        omax = std::max(omax, next.maxt);
        prev = next;
      }
      ListIt* x = h.Pop();
      if (x->Next()) h.Push(x);
    }
    if (!overlapping.empty()) {
      overlapping.push_back(curr);  // the first chunk goes last, as upstream appends it
      std::vector<Chk>& m = merged_lists.emplace_back();
      STRATA_RETURN_IF_ERROR(MergeOverlapping(overlapping, lset, &m, arena));
      ListIt& mit = its.emplace_back(ListIt{&m});
      if (!mit.Next()) {
        return absl::InternalError(
            fmt::format("compact: series {}: merging overlapping chunks gave no samples",
                        lset.ToString()));
      }
      curr = mit.At();
      if (mit.Next()) h.Push(&mit);
    }
    out->push_back(curr);
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<int64_t> ExponentialBlockRanges(int64_t min_size, int steps, int step_size) {
  std::vector<int64_t> ranges;
  int64_t cur = min_size;
  for (int i = 0; i < steps; ++i) {
    ranges.push_back(cur);
    if (step_size > 0 && cur > std::numeric_limits<int64_t>::max() / step_size) break;
    cur *= step_size;
  }
  return ranges;
}

std::vector<int64_t> CompactionRanges(int64_t block_range, int64_t max_block_duration) {
  std::vector<int64_t> r = ExponentialBlockRanges(block_range, 10, 3);
  if (max_block_duration > 0) {
    for (size_t i = 1; i < r.size(); ++i) {
      if (r[i] > max_block_duration) {
        r.resize(i);
        break;
      }
    }
  }
  return r;
}

std::vector<size_t> PlanCompaction(std::span<const block::BlockMeta> metas,
                                   const PlanOptions& opts) {
  std::vector<size_t> ds(metas.size());
  std::iota(ds.begin(), ds.end(), size_t{0});
  std::stable_sort(ds.begin(), ds.end(), [&](size_t a, size_t b) {
    return metas[a].min_time < metas[b].min_time;
  });
  auto meta = [&](size_t i) -> const block::BlockMeta& { return metas[ds[i]]; };

  // 1. selectOverlappingDirs: the first run of overlapping blocks.
  if (opts.enable_overlapping_compaction && ds.size() >= 2) {
    std::vector<size_t> res;
    int64_t global_maxt = meta(0).max_time;
    for (size_t i = 1; i < ds.size(); ++i) {
      if (meta(i).min_time < global_maxt) {
        if (res.empty()) res.push_back(ds[i - 1]);
        res.push_back(ds[i]);
      } else if (!res.empty()) {
        break;
      }
      global_maxt = std::max(global_maxt, meta(i).max_time);
    }
    if (!res.empty()) return res;
  }
  if (ds.empty() || opts.ranges.empty()) return {};
  // The newest block (largest min time) stays out: it was just cut from the head, and users
  // get one block range to back it up before it is merged.
  ds.pop_back();

  // 2. selectDirs: leveled ranges.
  if (opts.ranges.size() >= 2 && !ds.empty()) {
    const int64_t high_time = meta(ds.size() - 1).min_time;
    for (size_t ri = 1; ri < opts.ranges.size(); ++ri) {
      const int64_t tr = opts.ranges[ri];
      // splitByRange: groups of consecutive blocks inside one aligned window [t0, t0 + tr].
      for (size_t i = 0; i < ds.size();) {
        const block::BlockMeta& m = meta(i);
        // Go's integer division truncates toward zero, hence the adjustment for negatives.
        const int64_t t0 = m.min_time >= 0 ? tr * (m.min_time / tr)
                                           : tr * ((m.min_time - tr + 1) / tr);
        if (m.max_time > t0 + tr) {
          ++i;
          continue;
        }
        std::vector<size_t> group;
        for (; i < ds.size(); ++i) {
          if (meta(i).max_time > t0 + tr) break;
          group.push_back(i);
        }
        bool failed = false;
        for (size_t g : group) failed = failed || meta(g).compaction.failed;
        if (failed) continue;
        const int64_t mint = meta(group.front()).min_time;
        const int64_t maxt = meta(group.back()).max_time;
        if ((maxt - mint == tr || maxt <= high_time) && group.size() > 1) {
          std::vector<size_t> res;
          for (size_t g : group) res.push_back(ds[g]);
          return res;
        }
      }
    }
  }

  // 3. A big enough block with many tombstones is rewritten alone.
  const int64_t big = opts.ranges[opts.ranges.size() / 2];
  for (size_t k = ds.size(); k-- > 0;) {
    const block::BlockMeta& m = meta(k);
    if (m.max_time - m.min_time < big) {
      // An entirely deleted block is worth rewriting whatever its size.
      if (m.stats.num_tombstones > 0 && m.stats.num_tombstones >= m.stats.num_series) {
        return {ds[k]};
      }
      break;
    }
    if (static_cast<double>(m.stats.num_tombstones) /
            static_cast<double>(m.stats.num_series + 1) >
        0.05) {
      return {ds[k]};
    }
  }
  return {};
}

block::BlockMeta CompactBlockMetas(const block::Ulid& ulid,
                                   std::span<const block::BlockMeta> inputs) {
  block::BlockMeta res;
  res.ulid = ulid;
  if (inputs.empty()) return res;
  res.min_time = inputs[0].min_time;
  res.max_time = inputs[0].max_time;
  for (const block::BlockMeta& b : inputs) {
    res.min_time = std::min(res.min_time, b.min_time);
    res.max_time = std::max(res.max_time, b.max_time);
    res.compaction.level = std::max(res.compaction.level, b.compaction.level);
    res.compaction.sources.insert(res.compaction.sources.end(), b.compaction.sources.begin(),
                                  b.compaction.sources.end());
    res.compaction.parents.push_back({b.ulid, b.min_time, b.max_time});
  }
  ++res.compaction.level;
  auto& src = res.compaction.sources;
  std::sort(src.begin(), src.end());
  src.erase(std::unique(src.begin(), src.end()), src.end());
  return res;
}

absl::StatusOr<block::BlockMeta> CompactBlocks(
    base::FileSystem& fs, std::span<const std::shared_ptr<block::Block>> inputs,
    const std::string& out_dir, const CompactOptions& opts) {
  if (inputs.empty()) return absl::InvalidArgumentError("compact: no input blocks");
  std::vector<block::BlockMeta> metas;
  for (const auto& b : inputs) metas.push_back(b->meta());
  const block::Ulid ulid = opts.ulid.has_value() ? *opts.ulid : block::NewUlid(block::NowUnixMs());
  block::BlockMeta meta = CompactBlockMetas(ulid, metas);
  if (opts.compaction.has_value()) meta.compaction = *opts.compaction;

  block::BlockWriterOptions bopts;
  bopts.segment_size = opts.segment_size;
  bopts.min_time = meta.min_time;
  bopts.max_time = meta.max_time;
  bopts.ulid = ulid;
  bopts.compaction = meta.compaction;
  // The merge below yields series in label order: each goes to disk as it is merged.
  bopts.sorted_series = true;
  block::BlockWriter bw(fs, out_dir, bopts);
  for (const auto& b : inputs) {
    for (std::string_view sym : b->index().Symbols()) bw.AddSymbol(std::string(sym));
  }

  // Block ranges are half-open: samples at the output's max time are not the block's.
  std::vector<std::unique_ptr<BlockSeriesReader>> readers;
  for (const auto& b : inputs) {
    readers.push_back(std::make_unique<BlockSeriesReader>(*b, meta.min_time, meta.max_time - 1));
    STRATA_RETURN_IF_ERROR(readers.back()->Init());
  }
  // Prometheus's genericMergeSeriesSet: a heap of the inputs by current label set; all
  // inputs at the smallest label set are popped and merged.
  auto less = [](const BlockSeriesReader* a, const BlockSeriesReader* b) {
    return a->labels() < b->labels();
  };
  GoHeap<BlockSeriesReader*, decltype(less)> h(less);
  for (auto& r : readers) {
    if (r->Next()) {
      h.Push(r.get());
    } else if (!r->status().ok()) {
      return r->status();
    }
  }
  std::vector<BlockSeriesReader*> current;
  std::vector<const std::vector<Chk>*> lists;
  std::vector<Chk> merged;
  std::deque<std::string> arena;
  uint64_t series = 0;
  for (;;) {
    for (BlockSeriesReader* r : current) {
      if (r->Next()) {
        h.Push(r);
      } else if (!r->status().ok()) {
        return r->status();
      }
    }
    if (h.empty()) break;
    current.clear();
    const model::Labels lset = h.Top()->labels();
    while (!h.empty() && h.Top()->labels() == lset) current.push_back(h.Pop());
    const std::vector<Chk>* chks = &current[0]->chunks();
    if (current.size() > 1) {
      lists.clear();
      for (BlockSeriesReader* r : current) lists.push_back(&r->chunks());
      merged.clear();
      arena.clear();
      STRATA_RETURN_IF_ERROR(CompactChunks(lists, lset, &merged, &arena));
      chks = &merged;
    }
    if (chks->empty()) continue;
    std::vector<block::EncodedChunk> out;
    out.reserve(chks->size());
    for (const Chk& c : *chks) {
      block::EncodedChunk ec;
      ec.min_time = c.mint;
      ec.max_time = c.maxt;
      ec.encoding = c.encoding;
      ec.data = std::string(c.data);
      ec.num_samples = NumSamples(c.data);
      out.push_back(std::move(ec));
    }
    STRATA_RETURN_IF_ERROR(bw.AddChunks(lset, std::move(out)));
    ++series;
  }
  if (series == 0) {
    // Nothing left: no block is written (Prometheus returns an empty ULID and marks the
    // inputs deletable).
    meta.stats = {};
    return meta;
  }
  STRATA_ASSIGN_OR_RETURN(block::BlockMeta written, bw.Flush());
  return written;
}

}  // namespace strata::tsdb
