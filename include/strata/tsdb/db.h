// strata::tsdb::DB: a Prometheus-2.42-compatible data directory (section 2 of
// /work/shared/formats/tsdb-format.md): persisted blocks `<ULID>/`, the write-ahead log
// `wal/` feeding an in-memory Head, and the `lock` file.
//
// Open() takes the lock, deletes leftovers of interrupted writes, opens every block, repairs
// the WAL tail and replays checkpoint + WAL into the head. Appends go to the head (and, as
// one WAL batch per commit, to the WAL); Compact() persists the oldest head range into a
// level-1 block as Prometheus's compactHead does, truncates the head and checkpoints the WAL;
// retention deletes blocks older than `retention_ms` behind the newest block.
//
// Compact() then compacts blocks with strata/tsdb/compact.h as Prometheus's LeveledCompactor:
// overlapping blocks (an out-of-order backfill, blocks copied in) are merged vertically
// first, then adjacent blocks into the next level range (2h -> 6h -> 18h ...), then a block
// with many tombstones is rewritten; tombstoned samples are dropped in the output. Each
// output block is durable before its inputs are deleted, and Open() deletes blocks that are
// parents of another block, finishing a compaction a crash interrupted.
//
// Delete() adds tombstones to every overlapping block (rewriting its `tombstones` file) and
// to the head (logged to the WAL as a tombstones record); queries skip deleted samples and
// head compaction writes blocks without them. CleanTombstones() rewrites each block with
// tombstones into a block without the deleted data. Snapshot() hard-links every block into
// another directory and can persist the head there as a block. Size retention
// (retention_bytes) counts the blocks and the WAL, as Prometheus 2.42 does.
//
// Background compaction: unless DBOptions::compaction_interval_ms is 0, a thread owned by the
// DB runs Compact() every interval and as soon as a commit leaves the head compactable, as
// Prometheus's DB.run loop and dbAppender.Commit do; its errors go to opts.logger and it
// retries at the next interval. Close() stops it, waiting for a running compaction.
//
// Thread-safety: DB is thread-safe. Queries and appends run concurrently with each other and
// with background work. Compact(), Delete(), CleanTombstones() and Snapshot() serialise on a
// compaction mutex and take the block-list mutex only to read or swap the list, so:
//   - appends never wait for them: while Compact() persists the head or merges blocks,
//     NewAppender/Append/Commit proceed, each waiting at most for the one series being
//     copied into the new block (a per-series lock held for a chunk copy);
//   - queries never wait for them either: a new querier sees the block list as it is, and
//     a querier pins the blocks it reads (shared_ptr), so a block replaced by compaction or
//     deleted by retention stays readable until the querier is closed;
//   - as Prometheus's head truncation waits for pending readers, Compact() waits, before it
//     truncates the head below t, for queriers that read the head below t (opened before the
//     new block was added) to be closed. Do not call Compact() while the calling thread holds
//     such a querier open.
#pragma once

#include <atomic>
#include <cstdint>
#include <set>
#include <thread>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/mutex.h"
#include "strata/base/file_system.h"
#include "strata/storage/querier.h"
#include "strata/tsdb/block/block.h"
#include "strata/tsdb/head.h"
#include "strata/tsdb/wal/writer.h"

namespace strata::tsdb {

struct DBOptions {
  // File system for all I/O. nullptr: base::DefaultFileSystem().
  base::FileSystem* fs = nullptr;
  // Head chunk range and level-1 block range, ms. Default 2h as Prometheus.
  int64_t block_range = 2 * 60 * 60 * 1000;
  // Blocks whose max time is more than retention_ms before the newest block's max time are
  // deleted after each compaction and at Open (Prometheus's BeyondTimeRetention), ms.
  // 0: keep everything.
  int64_t retention_ms = 0;
  // Size retention (Prometheus's --storage.tsdb.retention.size, BeyondSizeRetention), bytes.
  // After each compaction and at Open, blocks are deleted oldest first (by max time) while
  // the WAL directory's size (segments and checkpoints; strata keeps head chunks in memory,
  // so there is no chunks_head/ to count) plus the sizes of the blocks kept (meta.json,
  // index, chunk segments, tombstones) exceeds this; the newest block can go too, as
  // upstream. Not applied to read-only opens. 0: off.
  int64_t retention_bytes = 0;
  // Largest block a leveled compaction may produce, ms. Ranges are block_range * 3^i
  // (2h, 6h, 18h, ...: Prometheus's ExponentialBlockRanges(min, 10, 3)) up to this. Default
  // 31d, the server's cap; set it to block_range to disable leveled compaction.
  int64_t max_block_duration = 31LL * 24 * 60 * 60 * 1000;
  // When appended WAL records reach the disk (see wal::SyncPolicy). Default: fsync every
  // commit, so a committed sample survives a process or machine crash.
  wal::SyncPolicy wal_sync = wal::SyncPolicy::kAlways;
  // WAL segment size in bytes.
  int64_t wal_segment_size = wal::kDefaultSegmentSize;
  // Background compaction (see above): Compact() every interval and after a commit that
  // leaves the head compactable. 0: no background thread; the owner calls Compact().
  // Default 1 minute, Prometheus's compaction loop interval. Read-only opens never start it.
  int64_t compaction_interval_ms = 60 * 1000;
  // Read-only: no lock, no leftover cleanup, no WAL writer (the WAL is only replayed);
  // appends and Compact() return FailedPrecondition. Like promtool's read-only DB.
  bool read_only = false;
  // Receives one line per notable event (leftover deleted, block cut, block deleted).
  // nullptr: silent. The library never prints.
  std::function<void(std::string_view)> logger;
};

// What Open() and Compact() did, for callers and tests.
struct DBStats {
  // Names of deleted leftovers: tmp entries, and blocks superseded by a compaction.
  std::vector<std::string> removed_leftovers;
  uint64_t blocks_created = 0;                 // by Compact()
  uint64_t blocks_deleted = 0;                 // by retention
  uint64_t blocks_merged = 0;                  // block compactions done by Compact()
  uint64_t wal_replayed_samples = 0;           // at Open
  uint64_t background_compactions = 0;         // Compact() runs by the background thread
  uint64_t background_failures = 0;            // ... that returned an error
};

class DB final : public storage::Queryable, public storage::Appendable {
 public:
  // Opens (creating if needed) the data directory `dir`. Blocks superseded by a compacted
  // block (listed in its meta.json parents) or marked deletable are deleted (left out when
  // read-only). Returns FailedPrecondition naming `dir/lock` if another DB holds it; the
  // block's error annotated with its directory if a block that is not superseded fails to
  // open; the WAL's DataLoss (segment, offset) for corruption before the
  // tail; file-system errors otherwise.
  static absl::StatusOr<std::unique_ptr<DB>> Open(std::string dir, DBOptions opts = {});

  // Calls Close() if the owner did not; a failure goes to opts.logger.
  ~DB() override;
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;

  // A querier over [mint, maxt] merging the head and every block overlapping the range.
  // Returns FailedPrecondition after Close(), a block's error otherwise.
  absl::StatusOr<std::unique_ptr<storage::Querier>> NewQuerier(int64_t mint,
                                                               int64_t maxt) override;

  // A head appender. Samples before the newest block's max time are refused with the
  // head's out-of-bounds error. After Close() (or read-only) every Append fails with
  // FailedPrecondition.
  std::unique_ptr<storage::Appender> NewAppender() override;

  // Persists head data while the head spans more than 1.5 block ranges (Prometheus's
  // compactable condition), then compacts blocks while the planner (PlanCompaction in
  // strata/tsdb/compact.h) finds a group, then applies retention. Returns
  // FailedPrecondition when closed or read-only, the block writer's, compactor's or WAL
  // checkpoint's error otherwise (the head is not truncated past data that was not
  // persisted; blocks whose compaction failed are marked failed in meta.json, as Prometheus
  // does, and left out of leveled compaction).
  absl::Status Compact();

  // Prometheus's DB.Delete: deletes the samples in the closed range [mint, maxt] of every
  // series matching `matchers` (an empty list deletes nothing) in every block overlapping
  // the range (block::Block::Delete: the block's tombstones file is rewritten atomically and
  // the block reopened) and in the head (Head::Delete: a WAL tombstones record, then
  // in-memory intervals). Queriers opened before keep their view. Returns
  // FailedPrecondition when closed or read-only, otherwise the first block's (annotated with
  // its directory) or the head's error; blocks handled before it keep their tombstones.
  absl::Status Delete(int64_t mint, int64_t maxt, const std::vector<model::Matcher>& matchers);

  // Prometheus's DB.CleanTombstones: each block with tombstones is rewritten without the
  // deleted samples into a new block with the same time range and, as 2.42's
  // LeveledCompactor.Write with a parent, compaction level 1, sources = the new block,
  // parents = the old block; the old block is then deleted. A block left without samples is
  // deleted without replacement. Returns FailedPrecondition when closed or read-only, or the
  // first error, naming the block (blocks cleaned before it stay cleaned).
  absl::Status CleanTombstones();

  // Prometheus's DB.Snapshot: every block is hard-linked (copied where linking fails) into
  // `dir`/<ULID>/, and with `with_head` the head's data in [MinTime, MaxTime] minus deleted
  // samples is written into `dir` as a level-1 block [MinTime, MaxTime + 1); the live head
  // is not truncated. `dir` can then be opened as a DB. Returns InvalidArgument if `dir` is
  // the DB's own directory or parses as a ULID (as upstream), FailedPrecondition when
  // closed, the file system's or block writer's error otherwise.
  absl::Status Snapshot(const std::string& dir, bool with_head);

  // Stops background compaction (waiting for a running one), then flushes and closes the
  // WAL and releases the lock. Idempotent: a second call returns OK.
  absl::Status Close();

  // The open blocks sorted by min time. Shared ownership: valid while held.
  std::vector<std::shared_ptr<block::Block>> Blocks() const;
  Head& head() { return *head_; }
  const std::string& dir() const { return dir_; }
  DBStats Stats() const;

 private:
  class Appender;
  class Querier;
  DB(std::string dir, DBOptions opts);
  absl::Status OpenBlocksLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The *Locked methods below run under cmtx_, which makes their caller the only writer of
  // blocks_; they read blocks_ through BlocksSnapshot() and replace it under mu_.
  absl::Status CompactHeadLocked(int64_t mint, int64_t maxt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cmtx_);
  absl::Status TruncateWalLocked(int64_t mint) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cmtx_);
  absl::Status ApplyRetentionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cmtx_);
  absl::Status ApplySizeRetentionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cmtx_);
  // Removes `drop` from the block list, then deletes their directories (DeleteBlockDir).
  absl::Status DropBlocksLocked(const std::vector<std::shared_ptr<block::Block>>& drop,
                                const char* why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cmtx_);
  // Writes the head's data in [mint, maxt) minus its tombstones as a level-1 block under
  // `parent`; returns its meta, or nullopt when no sample is left (no block is written).
  absl::StatusOr<std::optional<block::BlockMeta>> WriteHeadBlockLocked(const std::string& parent,
                                                                       int64_t mint, int64_t maxt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(cmtx_);
  // Renames `b`'s directory to *.tmp-for-deletion and removes it, so a crash leaves a
  // leftover Open deletes, never a half-deleted block.
  absl::Status DeleteBlockDir(const block::Block& b);
  // One planner step; sets *did to whether it merged a group.
  absl::Status CompactBlocksLocked(bool* did) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cmtx_);
  absl::Status CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cmtx_);
  // FailedPrecondition when closed or read-only.
  absl::Status CheckWritable() const;
  std::vector<std::shared_ptr<block::Block>> BlocksSnapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces the block list, sorted by min time.
  void SetBlocks(std::vector<std::shared_ptr<block::Block>> blocks) ABSL_LOCKS_EXCLUDED(mu_);
  // Prometheus's Head.compactable: the head spans more than 1.5 block ranges.
  bool HeadCompactable() const;
  // Wakes the background thread (no-op without one).
  void TriggerCompaction();
  void BackgroundLoop();
  void Log(std::string_view msg) const;

  const std::string dir_;
  const DBOptions opts_;
  base::FileSystem& fs_;
  // Serialises Compact, Delete, CleanTombstones, Snapshot and Close, the only writers of
  // blocks_. Acquired before mu_.
  base::Mutex cmtx_ ABSL_ACQUIRED_BEFORE(mu_);
  // Protects the block list, the open head readers, the lock file and stats; held only
  // briefly. The head and the WAL writer are internally thread-safe.
  mutable base::Mutex mu_;
  std::vector<std::shared_ptr<block::Block>> blocks_ ABSL_GUARDED_BY(mu_);
  // Lowest head time read by each open querier that reads the head (multiset).
  std::multiset<int64_t> head_readers_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<base::FileLock> lock_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<wal::Writer> wal_;
  std::unique_ptr<WalSink> sink_;
  std::unique_ptr<Head> head_;
  DBStats stats_ ABSL_GUARDED_BY(mu_);
  // Set once by Close(); read without a lock by NewAppender, which must not wait for a
  // running Compact().
  std::atomic<bool> closed_{false};
  // Background compaction: woken by TriggerCompaction or Close through bg_mu_.
  base::Mutex bg_mu_ ABSL_ACQUIRED_AFTER(mu_);
  bool bg_wake_ ABSL_GUARDED_BY(bg_mu_) = false;
  bool bg_stop_ ABSL_GUARDED_BY(bg_mu_) = false;
  std::thread bg_thread_;
  std::once_flag bg_stop_once_;
};

}  // namespace strata::tsdb
