// DB: data directory = blocks + WAL-backed head (see strata/tsdb/db.h).
#include "strata/tsdb/db.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "strata/base/status.h"
#include "strata/chunkenc/xor.h"
#include "strata/tsdb/block/block_writer.h"
#include "strata/tsdb/compact.h"
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

bool SortedByMinTime(const std::shared_ptr<block::Block>& a,
                     const std::shared_ptr<block::Block>& b) {
  return a->meta().min_time < b->meta().min_time;
}

}  // namespace

// The head appender plus Prometheus's dbAppender.Commit check: a commit that leaves the head
// compactable wakes the background compaction.
class DB::Appender final : public storage::Appender {
 public:
  Appender(DB* db, std::unique_ptr<storage::Appender> inner) : db_(db), inner_(std::move(inner)) {}
  absl::StatusOr<model::SeriesRef> Append(model::SeriesRef ref, const model::Labels& lset,
                                          int64_t t, double v) override {
    return inner_->Append(ref, lset, t, v);
  }
  absl::Status Commit() override {
    absl::Status s = inner_->Commit();
    if (db_->HeadCompactable()) db_->TriggerCompaction();
    return s;
  }
  absl::Status Rollback() override { return inner_->Rollback(); }

 private:
  DB* db_;
  std::unique_ptr<storage::Appender> inner_;
};

// A querier over blocks and head that, while it reads the head, is registered in
// head_readers_ so that head truncation waits for it (see db.h).
class DB::Querier final : public storage::Querier {
 public:
  Querier(DB* db, std::unique_ptr<storage::Querier> inner,
          std::optional<std::multiset<int64_t>::iterator> reader)
      : db_(db), inner_(std::move(inner)), reader_(reader) {}
  ~Querier() override { Close().IgnoreError(); }
  std::unique_ptr<storage::SeriesSet> Select(const std::vector<model::Matcher>& matchers,
                                             const storage::SelectHints* hints) override {
    return inner_->Select(matchers, hints);
  }
  absl::StatusOr<std::vector<std::string>> LabelNames(
      const std::vector<model::Matcher>& matchers) override {
    return inner_->LabelNames(matchers);
  }
  absl::StatusOr<std::vector<std::string>> LabelValues(
      const std::string& name, const std::vector<model::Matcher>& matchers) override {
    return inner_->LabelValues(name, matchers);
  }
  absl::Status Close() override {
    if (inner_ == nullptr) return absl::OkStatus();
    absl::Status s = inner_->Close();
    inner_.reset();
    if (reader_.has_value()) {
      base::MutexLock l(&db_->mu_);
      db_->head_readers_.erase(*reader_);
      reader_.reset();
    }
    return s;
  }

 private:
  DB* db_;
  std::unique_ptr<storage::Querier> inner_;
  std::optional<std::multiset<int64_t>::iterator> reader_;
};

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
  base::MutexLock c(&db->cmtx_);
  base::ReleasableMutexLock l(&db->mu_);
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
  l.Release();
  if (db->opts_.read_only) return db;
  STRATA_RETURN_IF_ERROR(db->ApplyRetentionLocked());
  if (db->opts_.compaction_interval_ms > 0) {
    db->bg_thread_ = std::thread([d = db.get()] { d->BackgroundLoop(); });
  }
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
  std::vector<std::pair<std::string, absl::Status>> corrupted;  // by directory name
  for (const std::string& name : names) {
    if (!block::Ulid::Parse(name).ok()) continue;  // wal, lock, chunks_head, ...
    const std::string path = base::JoinPath(dir_, name);
    STRATA_ASSIGN_OR_RETURN(bool is_dir, fs_.IsDirectory(path));
    if (!is_dir) continue;
    auto b = block::Block::Open(fs_, path);
    if (!b.ok()) {
      corrupted.emplace_back(
          name, base::Annotate(b.status(), absl::StrCat("tsdb open: block ", path)));
      continue;
    }
    blocks.push_back(std::move(*b));
  }
  // Prometheus's reloadBlocks: the parents of a loaded block are superseded by it (a crash
  // came after a compaction renamed its output into place but before the inputs were
  // deleted), even when they no longer open; blocks marked deletable (a compaction left
  // nothing of them) go too. Read-only opens leave them on disk but out of the block list.
  std::set<block::Ulid> superseded;
  for (const auto& b : blocks) {
    for (const auto& p : b->meta().compaction.parents) superseded.insert(p.ulid);
  }
  auto remove = [&](const std::string& path) -> absl::Status {
    if (opts_.read_only) return absl::OkStatus();
    const std::string tmp = path + ".tmp-for-deletion";
    STRATA_RETURN_IF_ERROR(fs_.Rename(path, tmp));
    STRATA_RETURN_IF_ERROR(fs_.RemoveAll(tmp));
    const std::string name = path.substr(dir_.size() + 1);
    stats_.removed_leftovers.push_back(name);
    Log(absl::StrCat("removed block ", path, " (superseded by a compacted block or deletable)"));
    return absl::OkStatus();
  };
  for (auto& [name, status] : corrupted) {
    auto u = block::Ulid::Parse(name);
    if (!u.ok() || superseded.count(*u) == 0) return status;
  }
  for (auto& [name, status] : corrupted) {
    STRATA_RETURN_IF_ERROR(remove(base::JoinPath(dir_, name)));
  }
  std::vector<std::shared_ptr<block::Block>> keep;
  for (auto& b : blocks) {
    if (superseded.count(b->meta().ulid) > 0 || b->meta().compaction.deletable) {
      STRATA_RETURN_IF_ERROR(remove(b->dir()));
      continue;
    }
    keep.push_back(std::move(b));
  }
  std::sort(keep.begin(), keep.end(), SortedByMinTime);
  blocks_ = std::move(keep);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<storage::Querier>> DB::NewQuerier(int64_t mint, int64_t maxt) {
  std::vector<std::shared_ptr<block::Block>> blocks;
  // The head answers only above the newest block: data below it was persisted (a head chunk
  // straddling a truncation point must not repeat the block's samples).
  int64_t head_floor = std::numeric_limits<int64_t>::min();
  std::optional<std::multiset<int64_t>::iterator> reader;
  // Registered with the block list it goes with, so that a compaction that adds a block
  // after this point truncates the head only once this querier is closed.
  auto unregister = [&] {
    if (!reader.has_value()) return;
    base::MutexLock l(&mu_);
    head_readers_.erase(*reader);
    reader.reset();
  };
  {
    base::MutexLock l(&mu_);
    if (closed_) return absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": closed"));
    blocks = blocks_;
    for (const auto& b : blocks_) head_floor = std::max(head_floor, b->meta().max_time);
    const int64_t head_mint = std::max(mint, head_floor);
    if (head_mint <= maxt) reader = head_readers_.insert(head_mint);
  }
  std::vector<std::unique_ptr<storage::Querier>> qs;
  for (const auto& b : blocks) {
    // Block range is half-open [min_time, max_time); the query range is closed.
    if (b->meta().max_time <= mint || b->meta().min_time > maxt) continue;
    auto q = b->NewQuerier(mint, maxt);
    if (!q.ok()) {
      unregister();
      return base::Annotate(q.status(), absl::StrCat("block ", b->dir()));
    }
    qs.push_back(std::move(*q));
  }
  const int64_t head_mint = std::max(mint, head_floor);
  if (head_->MaxTime() >= head_mint && head_->MinTime() <= maxt && head_mint <= maxt) {
    auto hq = head_->NewQuerier(head_mint, maxt);
    if (!hq.ok()) {
      unregister();
      return hq.status();
    }
    qs.push_back(std::move(*hq));
  } else {
    unregister();
  }
  std::unique_ptr<storage::Querier> inner =
      qs.size() == 1 ? std::move(qs[0]) : storage::NewMergeQuerier(std::move(qs));
  return std::make_unique<Querier>(this, std::move(inner), reader);
}

std::unique_ptr<storage::Appender> DB::NewAppender() {
  // No mu_ here: appends must not wait for a Compact() holding it. An appender made just
  // before a concurrent Close() fails at Commit with the closed WAL's error.
  if (closed_.load(std::memory_order_acquire)) {
    return std::make_unique<FailingAppender>(
        absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": closed")));
  }
  if (opts_.read_only) {
    return std::make_unique<FailingAppender>(
        absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": opened read-only")));
  }
  if (opts_.compaction_interval_ms <= 0) return head_->NewAppender();
  return std::make_unique<Appender>(this, head_->NewAppender());
}

std::vector<std::shared_ptr<block::Block>> DB::Blocks() const { return BlocksSnapshot(); }

std::vector<std::shared_ptr<block::Block>> DB::BlocksSnapshot() const {
  base::MutexLock l(&mu_);
  return blocks_;
}

void DB::SetBlocks(std::vector<std::shared_ptr<block::Block>> blocks) {
  std::sort(blocks.begin(), blocks.end(), SortedByMinTime);
  base::MutexLock l(&mu_);
  blocks_ = std::move(blocks);
}

absl::Status DB::CheckWritable() const {
  if (closed_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": closed"));
  }
  if (opts_.read_only) {
    return absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": opened read-only"));
  }
  return absl::OkStatus();
}

bool DB::HeadCompactable() const {
  return head_->MaxTime() - head_->MinTime() > opts_.block_range / 2 * 3;
}

void DB::TriggerCompaction() {
  base::MutexLock l(&bg_mu_);
  bg_wake_ = true;
}

void DB::BackgroundLoop() {
  // As Prometheus's DB.run: after a failure, wait 1 s, doubling up to 1 min, before the next
  // attempt even if commits keep asking for one.
  absl::Duration backoff = absl::ZeroDuration();
  const absl::Duration interval = absl::Milliseconds(opts_.compaction_interval_ms);
  for (;;) {
    {
      base::MutexLock l(&bg_mu_);
      auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(bg_mu_) { return bg_stop_; };
      auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(bg_mu_) { return bg_wake_ || bg_stop_; };
      if (backoff > absl::ZeroDuration()) bg_mu_.AwaitWithTimeout(absl::Condition(&stop), backoff);
      if (bg_stop_) return;
      bg_mu_.AwaitWithTimeout(absl::Condition(&woken), interval);
      if (bg_stop_) return;
      bg_wake_ = false;
    }
    absl::Status s;
    {
      base::MutexLock c(&cmtx_);
      if (closed_.load(std::memory_order_acquire)) return;
      s = CompactLocked();
    }
    {
      base::MutexLock l(&mu_);
      ++stats_.background_compactions;
      if (!s.ok()) ++stats_.background_failures;
    }
    if (s.ok()) {
      backoff = absl::ZeroDuration();
    } else {
      backoff = std::clamp(backoff * 2, absl::Seconds(1), absl::Minutes(1));
      Log(absl::StrCat("background compaction failed: ", s.ToString()));
    }
  }
}

DBStats DB::Stats() const {
  base::MutexLock l(&mu_);
  return stats_;
}

absl::Status DB::Compact() {
  base::MutexLock c(&cmtx_);
  return CompactLocked();
}

absl::Status DB::CompactLocked() {
  STRATA_RETURN_IF_ERROR(CheckWritable());
  const int64_t range = opts_.block_range;
  // The head's lower bound is the later of its oldest sample and the last truncation point
  // (Prometheus sets head.minTime on Truncate, so the next block starts aligned).
  int64_t lower = std::numeric_limits<int64_t>::min();
  for (const auto& b : BlocksSnapshot()) lower = std::max(lower, b->meta().max_time);
  for (;;) {
    const int64_t head_min = std::max(head_->MinTime(), lower);
    const int64_t head_max = head_->MaxTime();
    if (head_max < head_min) break;  // empty head
    // Prometheus's Head.compactable: MaxTime - MinTime > chunkRange/2*3.
    if (head_max - head_min <= range / 2 * 3) break;
    const int64_t maxt = RangeEnd(head_min, range);
    STRATA_RETURN_IF_ERROR(CompactHeadLocked(head_min, maxt));
    // New queriers now read [.., maxt) from the block; queriers opened before may still
    // read it from the head (Prometheus's WaitForPendingReadersInTimeRange).
    {
      base::MutexLock l(&mu_);
      auto drained = [this, maxt]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return head_readers_.empty() || *head_readers_.begin() >= maxt;
      };
      if (!drained()) {
        Log(absl::StrCat("waiting for ", head_readers_.size(),
                         " open queriers before truncating the head at ", maxt));
      }
      mu_.Await(absl::Condition(&drained));
    }
    STRATA_RETURN_IF_ERROR(head_->Truncate(maxt));
    STRATA_RETURN_IF_ERROR(TruncateWalLocked(maxt));
    lower = maxt;
  }
  for (bool did = true; did;) STRATA_RETURN_IF_ERROR(CompactBlocksLocked(&did));
  return ApplyRetentionLocked();
}

absl::Status DB::CompactBlocksLocked(bool* did) {
  *did = false;
  std::vector<std::shared_ptr<block::Block>> blocks = BlocksSnapshot();
  // Prometheus's LeveledCompactor.Plan (strata/tsdb/compact.h): overlapping blocks first
  // (vertical compaction), then leveled ranges, then a block with many tombstones.
  std::vector<block::BlockMeta> metas;
  for (const auto& b : blocks) {
    block::BlockMeta m = b->meta();
    // The tombstones file is authoritative for the count the planner weighs.
    m.stats.num_tombstones = std::max(m.stats.num_tombstones, b->tombstones().NumIntervals());
    metas.push_back(std::move(m));
  }
  PlanOptions popts;
  popts.ranges = CompactionRanges(opts_.block_range, opts_.max_block_duration);
  const std::vector<size_t> plan = PlanCompaction(metas, popts);
  if (plan.empty()) return absl::OkStatus();
  std::vector<std::shared_ptr<block::Block>> pick;
  for (size_t i : plan) pick.push_back(blocks[i]);
  auto picked = [&](const std::shared_ptr<block::Block>& b) {
    return std::find(pick.begin(), pick.end(), b) != pick.end();
  };

  // The output is complete and durable (meta.json included) once CompactBlocks returns;
  // only then are the inputs deleted. A crash before the rename leaves a tmp leftover and
  // the inputs; a crash after it leaves the output, whose parents Open deletes.
  auto meta = CompactBlocks(fs_, pick, dir_);
  if (!meta.ok()) {
    // As Prometheus's setCompactionFailed: the planner's leveled step skips these blocks
    // from now on instead of failing the same way on every Compact(). Best effort.
    for (auto& b : blocks) {
      if (!picked(b)) continue;
      block::BlockMeta m = b->meta();
      m.compaction.failed = true;
      if (!block::WriteMeta(fs_, b->dir(), m).ok()) continue;
      auto reopened = block::Block::Open(fs_, b->dir());
      if (reopened.ok()) b = std::move(*reopened);
    }
    SetBlocks(std::move(blocks));
    return base::Annotate(meta.status(), absl::StrCat("tsdb compact ", dir_));
  }
  std::shared_ptr<block::Block> out;
  if (meta->stats.num_samples > 0) {
    const std::string path = base::JoinPath(dir_, meta->ulid.ToString());
    auto nb = block::Block::Open(fs_, path);
    if (!nb.ok()) return base::Annotate(nb.status(), absl::StrCat("tsdb compact: block ", path));
    out = std::move(*nb);
  } else {
    // Every sample was deleted: no block was written. Mark the inputs deletable first (as
    // Prometheus does) so that a crash before their removal still removes them at Open.
    for (const auto& b : pick) {
      block::BlockMeta m = b->meta();
      m.compaction.deletable = true;
      STRATA_RETURN_IF_ERROR(block::WriteMeta(fs_, b->dir(), m));
    }
  }
  std::vector<std::shared_ptr<block::Block>> keep;
  for (auto& b : blocks) {
    if (!picked(b)) keep.push_back(std::move(b));
  }
  if (out != nullptr) keep.push_back(out);
  SetBlocks(std::move(keep));
  // Open queriers keep the inputs' mapped files alive.
  for (const auto& b : pick) STRATA_RETURN_IF_ERROR(DeleteBlockDir(*b));
  {
    base::MutexLock l(&mu_);
    ++stats_.blocks_merged;
  }
  Log(out != nullptr ? absl::StrCat("compacted ", pick.size(), " blocks into ", out->dir(),
                                    " level ", out->meta().compaction.level)
                     : absl::StrCat("compacted ", pick.size(), " blocks: nothing left, deleted"));
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
  std::vector<std::shared_ptr<block::Block>> blocks = BlocksSnapshot();
  blocks.push_back(std::move(*b));
  SetBlocks(std::move(blocks));
  {
    base::MutexLock l(&mu_);
    ++stats_.blocks_created;
  }
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
  const std::vector<std::shared_ptr<block::Block>> blocks = BlocksSnapshot();
  if (opts_.retention_ms <= 0 || blocks.empty()) return ApplySizeRetentionLocked();
  int64_t newest = std::numeric_limits<int64_t>::min();
  for (const auto& b : blocks) newest = std::max(newest, b->meta().max_time);
  std::vector<std::shared_ptr<block::Block>> drop;
  for (const auto& b : blocks) {
    // Prometheus's BeyondTimeRetention: a block goes when its max time is more than the
    // retention older than the newest block's.
    if (newest - b->meta().max_time > opts_.retention_ms) drop.push_back(b);
  }
  STRATA_RETURN_IF_ERROR(DropBlocksLocked(drop, "retention"));
  return ApplySizeRetentionLocked();
}

absl::Status DB::DropBlocksLocked(const std::vector<std::shared_ptr<block::Block>>& drop,
                                  const char* why) {
  if (drop.empty()) return absl::OkStatus();
  std::vector<std::shared_ptr<block::Block>> keep;
  for (auto& b : BlocksSnapshot()) {
    if (std::find(drop.begin(), drop.end(), b) == drop.end()) keep.push_back(std::move(b));
  }
  SetBlocks(std::move(keep));
  // Out of the list first: a crash before a directory is gone only brings the block back
  // at Open, where retention applies again. Open queriers keep the mapped files alive.
  for (const auto& b : drop) {
    STRATA_RETURN_IF_ERROR(DeleteBlockDir(*b));
    {
      base::MutexLock l(&mu_);
      ++stats_.blocks_deleted;
    }
    Log(absl::StrCat(why, ": deleted block ", b->dir()));
  }
  return absl::OkStatus();
}

absl::Status DB::Close() {
  // Stop the background thread first, outside cmtx_, which its running compaction holds.
  std::call_once(bg_stop_once_, [this] {
    {
      base::MutexLock l(&bg_mu_);
      bg_stop_ = true;
    }
    if (bg_thread_.joinable()) bg_thread_.join();
  });
  base::MutexLock c(&cmtx_);
  base::MutexLock l(&mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  absl::Status s;
  if (wal_ != nullptr) s = wal_->Close();
  lock_.reset();
  return s;
}

}  // namespace strata::tsdb
