// DB: data directory = blocks + WAL-backed head (see strata/tsdb/db.h).
#include "strata/tsdb/db.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "strata/base/status.h"
#include "strata/chunkenc/xor.h"
#include "strata/tsdb/block/block_writer.h"
#include "strata/tsdb/head_wal.h"
#include "strata/tsdb/wal/checkpoint.h"
#include "strata/tsdb/wal/segment.h"

namespace strata::tsdb {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Leftovers of interrupted writes that Prometheus's Open deletes (tsdb/db.go
// removeBestEffortTmpDirs): block directories under construction or deletion, and `*.tmp`.
bool IsLeftover(std::string_view name) {
  return EndsWith(name, ".tmp-for-creation") || EndsWith(name, ".tmp-for-deletion") ||
         EndsWith(name, ".tmp");
}

// Prometheus's rangeForTimestamp: the end of the block range containing t.
int64_t RangeEnd(int64_t t, int64_t width) {
  int64_t q = t / width;
  if (t < 0 && t % width != 0) --q;  // floor division so negative times align too
  return (q + 1) * width;
}

// Every append fails: the DB is closed or read-only.
class FailingAppender final : public storage::Appender {
 public:
  explicit FailingAppender(absl::Status s) : s_(std::move(s)) {}
  absl::StatusOr<model::SeriesRef> Append(model::SeriesRef, const model::Labels&, int64_t,
                                          double) override {
    return s_;
  }
  absl::Status Commit() override { return s_; }
  absl::Status Rollback() override { return absl::OkStatus(); }

 private:
  absl::Status s_;
};

}  // namespace

DB::DB(std::string dir, DBOptions opts)
    : dir_(std::move(dir)),
      opts_(std::move(opts)),
      fs_(opts_.fs != nullptr ? *opts_.fs : *base::DefaultFileSystem()) {}

absl::StatusOr<std::unique_ptr<DB>> DB::Open(std::string dir, DBOptions opts) {
  if (opts.block_range <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tsdb open ", dir, ": block_range must be positive, got ", opts.block_range));
  }
  std::unique_ptr<DB> db(new DB(std::move(dir), std::move(opts)));
  absl::MutexLock l(&db->mu_);
  base::FileSystem& fs = db->fs_;
  const std::string& d = db->dir_;
  if (!db->opts_.read_only) {
    STRATA_RETURN_IF_ERROR(fs.CreateDirs(d));
    auto lock = fs.LockFile(base::JoinPath(d, "lock"));
    if (!lock.ok()) {
      return base::Annotate(lock.status(), absl::StrCat("tsdb open: lock ", d, "/lock"));
    }
    db->lock_ = std::move(*lock);
    STRATA_ASSIGN_OR_RETURN(auto names, fs.ListDir(d));
    for (const std::string& name : names) {
      if (!IsLeftover(name)) continue;
      STRATA_RETURN_IF_ERROR(fs.RemoveAll(base::JoinPath(d, name)));
      db->stats_.removed_leftovers.push_back(name);
      db->Log(absl::StrCat("removed leftover ", d, "/", name));
    }
  } else {
    STRATA_ASSIGN_OR_RETURN(bool is_dir, fs.IsDirectory(d));
    if (!is_dir) return absl::NotFoundError(absl::StrCat("tsdb open: ", d, " is not a directory"));
  }
  STRATA_RETURN_IF_ERROR(db->OpenBlocksLocked());

  HeadOptions hopts;
  hopts.chunk_range = db->opts_.block_range;
  const std::string wal_dir = base::JoinPath(d, "wal");
  if (!db->opts_.read_only) {
    wal::WriterOptions wopts;
    wopts.fs = &fs;
    wopts.segment_size = db->opts_.wal_segment_size;
    wopts.sync_policy = db->opts_.wal_sync;
    // Open repairs a torn tail of the newest segment and starts a fresh one, so the replay
    // below reads only intact records.
    auto w = wal::Writer::Open(wal_dir, wopts);
    if (!w.ok()) return base::Annotate(w.status(), absl::StrCat("tsdb open ", d));
    db->wal_ = std::move(*w);
    STRATA_RETURN_IF_ERROR(wal::DeleteTempCheckpoints(fs, wal_dir));
    db->sink_ = std::make_unique<WalWriterSink>(db->wal_.get());
    hopts.wal = db->sink_.get();
  }
  db->head_ = std::make_unique<Head>(hopts);
  // Samples older than persisted data are refused, at replay and later at Append
  // (Prometheus's minValidTime = max time of the newest block).
  if (!db->blocks_.empty()) {
    int64_t newest = std::numeric_limits<int64_t>::min();
    for (const auto& b : db->blocks_) newest = std::max(newest, b->meta().max_time);
    STRATA_RETURN_IF_ERROR(db->head_->Truncate(newest));
  }
  STRATA_ASSIGN_OR_RETURN(bool has_wal, fs.Exists(wal_dir));
  if (has_wal) {
    // Read-only opens repair nothing, so a torn tail (DataLoss) is taken as the end of the
    // log, as promtool's read-only DB does.
    WalReplayStats rst;
    absl::Status s = ReplayWal(fs, wal_dir, *db->head_, &rst);
    if (!s.ok() && !(db->opts_.read_only && absl::IsDataLoss(s))) return s;
    db->stats_.wal_replayed_samples = rst.samples;
  }
  if (!db->opts_.read_only) STRATA_RETURN_IF_ERROR(db->ApplyRetentionLocked());
  return db;
}

DB::~DB() {
  absl::Status s = Close();
  if (!s.ok()) Log(absl::StrCat("closing ", dir_, ": ", s.ToString()));
}

void DB::Log(std::string_view msg) const {
  if (opts_.logger) opts_.logger(msg);
}

absl::Status DB::OpenBlocksLocked() {
  STRATA_ASSIGN_OR_RETURN(auto names, fs_.ListDir(dir_));
  std::vector<std::shared_ptr<block::Block>> blocks;
  for (const std::string& name : names) {
    if (!block::Ulid::Parse(name).ok()) continue;  // wal, lock, chunks_head, ...
    const std::string path = base::JoinPath(dir_, name);
    STRATA_ASSIGN_OR_RETURN(bool is_dir, fs_.IsDirectory(path));
    if (!is_dir) continue;
    auto b = block::Block::Open(fs_, path);
    if (!b.ok()) return base::Annotate(b.status(), absl::StrCat("tsdb open: block ", path));
    blocks.push_back(std::move(*b));
  }
  std::sort(blocks.begin(), blocks.end(), [](const auto& a, const auto& b) {
    return a->meta().min_time < b->meta().min_time;
  });
  blocks_ = std::move(blocks);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<storage::Querier>> DB::NewQuerier(int64_t mint, int64_t maxt) {
  std::vector<std::shared_ptr<block::Block>> blocks;
  // The head answers only above the newest block: data below it was persisted (a head chunk
  // straddling a truncation point must not repeat the block's samples).
  int64_t head_floor = std::numeric_limits<int64_t>::min();
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": closed"));
    blocks = blocks_;
    for (const auto& b : blocks_) head_floor = std::max(head_floor, b->meta().max_time);
  }
  std::vector<std::unique_ptr<storage::Querier>> qs;
  for (const auto& b : blocks) {
    // Block range is half-open [min_time, max_time); the query range is closed.
    if (b->meta().max_time <= mint || b->meta().min_time > maxt) continue;
    auto q = b->NewQuerier(mint, maxt);
    if (!q.ok()) return base::Annotate(q.status(), absl::StrCat("block ", b->dir()));
    qs.push_back(std::move(*q));
  }
  const int64_t head_mint = std::max(mint, head_floor);
  if (head_->MaxTime() >= head_mint && head_->MinTime() <= maxt && head_mint <= maxt) {
    STRATA_ASSIGN_OR_RETURN(auto hq, head_->NewQuerier(head_mint, maxt));
    qs.push_back(std::move(hq));
  }
  if (qs.size() == 1) return std::move(qs[0]);
  return storage::NewMergeQuerier(std::move(qs));
}

std::unique_ptr<storage::Appender> DB::NewAppender() {
  {
    absl::MutexLock l(&mu_);
    if (closed_) {
      return std::make_unique<FailingAppender>(
          absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": closed")));
    }
  }
  if (opts_.read_only) {
    return std::make_unique<FailingAppender>(
        absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": opened read-only")));
  }
  return head_->NewAppender();
}

std::vector<std::shared_ptr<block::Block>> DB::Blocks() const {
  absl::MutexLock l(&mu_);
  return blocks_;
}

DBStats DB::Stats() const {
  absl::MutexLock l(&mu_);
  return stats_;
}

absl::Status DB::Compact() {
  absl::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": closed"));
  if (opts_.read_only) {
    return absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": opened read-only"));
  }
  const int64_t range = opts_.block_range;
  // The head's lower bound is the later of its oldest sample and the last truncation point
  // (Prometheus sets head.minTime on Truncate, so the next block starts aligned).
  int64_t lower = std::numeric_limits<int64_t>::min();
  for (const auto& b : blocks_) lower = std::max(lower, b->meta().max_time);
  for (;;) {
    const int64_t head_min = std::max(head_->MinTime(), lower);
    const int64_t head_max = head_->MaxTime();
    if (head_max < head_min) break;  // empty head
    // Prometheus's Head.compactable: MaxTime - MinTime > chunkRange/2*3.
    if (head_max - head_min <= range / 2 * 3) break;
    const int64_t maxt = RangeEnd(head_min, range);
    STRATA_RETURN_IF_ERROR(CompactHeadLocked(head_min, maxt));
    STRATA_RETURN_IF_ERROR(head_->Truncate(maxt));
    STRATA_RETURN_IF_ERROR(TruncateWalLocked(maxt));
    lower = maxt;
  }
  for (bool did = true; did;) STRATA_RETURN_IF_ERROR(CompactBlocksLocked(&did));
  return ApplyRetentionLocked();
}

absl::Status DB::CompactBlocksLocked(bool* did) {
  *did = false;
  // Prometheus's LeveledCompactor.plan/selectDirs for non-overlapping blocks. The newest
  // block (largest min time) is left out: it was just cut from the head, and users get a
  // block range to back it up before it is merged.
  if (blocks_.size() < 3) return absl::OkStatus();
  for (size_t i = 1; i < blocks_.size(); ++i) {
    // Overlapping blocks need vertical compaction, which is not implemented: do nothing.
    if (blocks_[i]->meta().min_time < blocks_[i - 1]->meta().max_time) return absl::OkStatus();
  }
  std::vector<std::shared_ptr<block::Block>> ds(blocks_.begin(), blocks_.end() - 1);
  const int64_t high_time = ds.back()->meta().min_time;
  std::vector<std::shared_ptr<block::Block>> pick;
  int64_t r = opts_.block_range;
  for (int level = 1; level < 10 && pick.empty(); ++level) {
    if (r > std::numeric_limits<int64_t>::max() / 3) break;
    r *= 3;
    if (r > opts_.max_block_duration) break;
    // splitByRange: groups of blocks lying wholly inside one aligned window of width r.
    for (size_t i = 0; i < ds.size() && pick.empty();) {
      const auto& m = ds[i]->meta();
      int64_t t0 = m.min_time / r * r;
      if (m.min_time < 0 && m.min_time % r != 0) t0 -= r;
      if (m.max_time > t0 + r) {
        ++i;
        continue;
      }
      std::vector<std::shared_ptr<block::Block>> group;
      for (; i < ds.size(); ++i) {
        const auto& mi = ds[i]->meta();
        if (mi.max_time > t0 + r) break;
        group.push_back(ds[i]);
      }
      bool ok = group.size() > 1;
      for (const auto& b : group) {
        if (b->meta().compaction.failed || b->meta().stats.num_tombstones > 0 ||
            !b->tombstones().empty()) {
          ok = false;
        }
      }
      const int64_t mint = group.front()->meta().min_time;
      const int64_t maxt = group.back()->meta().max_time;
      if (ok && (maxt - mint == r || maxt <= high_time)) pick = std::move(group);
    }
  }
  if (pick.empty()) return absl::OkStatus();

  // Merge: per series (by labels), the chunks of each input in time order, verbatim.
  std::map<std::string, std::pair<model::Labels, std::vector<block::EncodedChunk>>> series;
  for (const auto& b : pick) {
    STRATA_ASSIGN_OR_RETURN(auto p, b->index().AllPostings());
    model::Labels lset;
    std::vector<index::ChunkMeta> metas;
    while (p->Next()) {
      STRATA_RETURN_IF_ERROR(b->index().Series(p->At(), &lset, &metas));
      auto& e = series[std::string(lset.packed())];
      if (e.second.empty()) e.first = lset;
      for (const auto& cm : metas) {
        auto cd = b->chunks().Chunk(cm.ref);
        if (!cd.ok()) return base::Annotate(cd.status(), absl::StrCat("block ", b->dir()));
        block::EncodedChunk ec;
        ec.min_time = cm.min_time;
        ec.max_time = cm.max_time;
        ec.encoding = cd->encoding;
        ec.data = std::string(cd->data);
        chunkenc::XorIterator it(cd->data);
        while (it.Next()) ++ec.num_samples;
        if (!it.status().ok()) {
          return base::Annotate(it.status(), absl::StrCat("block ", b->dir(), ": chunk of ",
                                                          lset.ToString()));
        }
        e.second.push_back(std::move(ec));
      }
    }
    STRATA_RETURN_IF_ERROR(p->status());
  }
  block::BlockWriterOptions bopts;
  bopts.chunk_range = opts_.block_range;
  bopts.min_time = pick.front()->meta().min_time;
  bopts.max_time = pick.back()->meta().max_time;
  block::BlockWriter bw(fs_, dir_, bopts);
  for (auto& [key, e] : series) {
    if (e.second.empty()) continue;
    STRATA_RETURN_IF_ERROR(bw.AddChunks(e.first, std::move(e.second)));
  }
  auto meta = bw.Flush();
  if (!meta.ok()) return base::Annotate(meta.status(), absl::StrCat("tsdb compact ", dir_));
  // Compaction metadata as Prometheus's LeveledCompactor writes it (format doc section 2):
  // level = max input level + 1, sources = union of the inputs' sources sorted, parents =
  // the inputs in order. meta.json is replaced atomically; a crash before that leaves a
  // level-1 block overlapping its inputs, whose samples merged queries deduplicate.
  block::BlockMeta m = *meta;
  m.compaction.level = 0;
  m.compaction.sources.clear();
  m.compaction.parents.clear();
  for (const auto& b : pick) {
    const auto& bm = b->meta();
    m.compaction.level = std::max(m.compaction.level, bm.compaction.level + 1);
    m.compaction.sources.insert(m.compaction.sources.end(), bm.compaction.sources.begin(),
                                bm.compaction.sources.end());
    m.compaction.parents.push_back({bm.ulid, bm.min_time, bm.max_time});
  }
  std::sort(m.compaction.sources.begin(), m.compaction.sources.end());
  m.compaction.sources.erase(
      std::unique(m.compaction.sources.begin(), m.compaction.sources.end()),
      m.compaction.sources.end());
  const std::string path = base::JoinPath(dir_, m.ulid.ToString());
  STRATA_RETURN_IF_ERROR(block::WriteMeta(fs_, path, m));
  auto nb = block::Block::Open(fs_, path);
  if (!nb.ok()) return base::Annotate(nb.status(), absl::StrCat("tsdb compact: block ", path));
  // Delete the inputs (rename first, as retention does).
  std::vector<std::shared_ptr<block::Block>> keep;
  for (auto& b : blocks_) {
    if (std::find(pick.begin(), pick.end(), b) != pick.end()) {
      const std::string tmp = b->dir() + ".tmp-for-deletion";
      STRATA_RETURN_IF_ERROR(fs_.Rename(b->dir(), tmp));
      STRATA_RETURN_IF_ERROR(fs_.RemoveAll(tmp));
      continue;
    }
    keep.push_back(std::move(b));
  }
  keep.push_back(std::move(*nb));
  std::sort(keep.begin(), keep.end(), [](const auto& a, const auto& b) {
    return a->meta().min_time < b->meta().min_time;
  });
  blocks_ = std::move(keep);
  ++stats_.blocks_merged;
  Log(absl::StrCat("merged ", pick.size(), " blocks into ", path, " level ",
                   m.compaction.level));
  *did = true;
  return absl::OkStatus();
}

absl::Status DB::CompactHeadLocked(int64_t mint, int64_t maxt) {
  auto written = WriteHeadBlockLocked(dir_, mint, maxt);
  if (!written.ok()) return base::Annotate(written.status(), absl::StrCat("tsdb compact ", dir_));
  if (!written->has_value()) return absl::OkStatus();  // Prometheus writes no empty block
  const block::BlockMeta* meta = &**written;
  const std::string path = base::JoinPath(dir_, meta->ulid.ToString());
  auto b = block::Block::Open(fs_, path);
  if (!b.ok()) return base::Annotate(b.status(), absl::StrCat("tsdb compact: block ", path));
  blocks_.push_back(std::move(*b));
  std::sort(blocks_.begin(), blocks_.end(), [](const auto& a, const auto& b) {
    return a->meta().min_time < b->meta().min_time;
  });
  ++stats_.blocks_created;
  Log(absl::StrCat("wrote block ", path, " [", mint, ", ", maxt, ")"));
  return absl::OkStatus();
}

absl::Status DB::TruncateWalLocked(int64_t mint) {
  const std::string wal_dir = wal_->dir();
  STRATA_ASSIGN_OR_RETURN(auto bounds, wal::SegmentBounds(fs_, wal_dir));
  int first = bounds.first;
  int last = bounds.second - 1;  // never checkpoint the segment being written
  if (last < 0) return absl::OkStatus();
  // Prometheus (head.truncateWAL) checkpoints the first 2/3 of the segments: the newest
  // ones are likely to hold samples still needed and would be rewritten again soon.
  last = first + (last - first) * 2 / 3;
  if (last <= first) return absl::OkStatus();
  std::unordered_set<model::SeriesRef> live;
  head_->ForEachSeries([&](model::SeriesRef ref, const model::Labels&,
                           std::span<const HeadChunkView>) { live.insert(ref); });
  auto st = wal::Checkpoint(fs_, wal_dir, first, last,
                            [&](model::SeriesRef ref) { return live.count(ref) > 0; }, mint,
                            wal_->compression());
  if (!st.ok()) return base::Annotate(st.status(), absl::StrCat("tsdb ", dir_, ": checkpoint"));
  STRATA_RETURN_IF_ERROR(wal_->Truncate(last + 1));
  STRATA_RETURN_IF_ERROR(wal::DeleteCheckpoints(fs_, wal_dir, last));
  Log(absl::StrCat("checkpointed WAL segments ", first, "..", last));
  return absl::OkStatus();
}

absl::Status DB::ApplyRetentionLocked() {
  if (opts_.retention_ms <= 0 || blocks_.empty()) return ApplySizeRetentionLocked();
  int64_t newest = std::numeric_limits<int64_t>::min();
  for (const auto& b : blocks_) newest = std::max(newest, b->meta().max_time);
  std::vector<std::shared_ptr<block::Block>> keep;
  for (auto& b : blocks_) {
    // Prometheus's BeyondTimeRetention: a block goes when its max time is more than the
    // retention older than the newest block's.
    if (newest - b->meta().max_time > opts_.retention_ms) {
      const std::string tmp = b->dir() + ".tmp-for-deletion";
      // Rename first so a crash mid-removal leaves a leftover Open deletes, never a
      // half-deleted block that looks valid. Open queriers keep the mapped files alive.
      STRATA_RETURN_IF_ERROR(fs_.Rename(b->dir(), tmp));
      STRATA_RETURN_IF_ERROR(fs_.RemoveAll(tmp));
      ++stats_.blocks_deleted;
      Log(absl::StrCat("retention: deleted block ", b->dir()));
      continue;
    }
    keep.push_back(std::move(b));
  }
  blocks_ = std::move(keep);
  return ApplySizeRetentionLocked();
}

absl::Status DB::Close() {
  absl::MutexLock l(&mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  absl::Status s;
  if (wal_ != nullptr) s = wal_->Close();
  lock_.reset();
  return s;
}

}  // namespace strata::tsdb
