// strata::tsdb::wal::Writer: appends records to a Prometheus-format write-ahead log
// (layout in strata/tsdb/wal/segment.h; Prometheus tsdb/wlog/wlog.go).
//
// Records are opaque bytes (encode them with strata/tsdb/record/record.h). Each Log() call
// writes its records into the 32 KiB page buffer, splitting a record into first/middle/last
// fragments where it crosses pages, and writes the page's new bytes to the segment file
// before returning, so a later Sync() makes them durable. A record that does not fit in the
// rest of the current segment starts a new segment (the current page is zero-filled);
// Close() zero-fills the current page to its end, as Prometheus does.
//
// Open() first repairs a torn tail of the newest existing segment (see RepairTail in
// strata/tsdb/wal/reader.h) and then always starts a new segment after it, as Prometheus
// does, so existing segments are never appended to.
//
// Thread-safety: all methods are thread-safe. Many appenders may call Log() concurrently:
// compression and checksums happen before any lock is taken, and then concurrent calls are
// group-committed: a call that finds another one writing queues its batch and sleeps; the
// writing call (the leader) then takes every queued batch, copies them into the page buffer
// in queue order and writes them with one write per touched run of pages (plus one fsync
// under SyncPolicy::kAlways), and wakes their callers. A call still returns only after its
// records were written to the file (and synced as its policy asks), so an acknowledged
// batch survives a crash of the process exactly as with one write per call. A failed write
// leaves the page buffer and file out of step, so it is sticky: every later
// Log/Sync/NextSegment returns FailedPrecondition naming the first error; reopen the WAL
// (which repairs the tail) to continue. A write error fails every batch of the group.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/mutex.h"
#include "strata/base/file_system.h"
#include "strata/tsdb/wal/reader.h"
#include "strata/tsdb/wal/segment.h"

namespace strata::tsdb::wal {

enum class SyncPolicy {
  kNone,      // fsync only when a segment is finished and on Close (Prometheus's behaviour)
  kAlways,    // fsync the segment at the end of every Log() call, before it returns
  kPeriodic,  // fsync at the end of a Log() call if the last fsync is older than sync_interval
};

struct WriterOptions {
  // File system for every access; nullptr means base::DefaultFileSystem(). Must outlive
  // the writer.
  base::FileSystem* fs = nullptr;
  // Size at which a segment is finished, in bytes; a multiple of kPageSize. Default 128 MiB.
  int64_t segment_size = kDefaultSegmentSize;
  // Record compression: kZstd sets flag 0x10 on every fragment (Prometheus >= 2.46 reads
  // it; 2.42 does not). A record is stored compressed only if that makes it smaller.
  Compression compression = Compression::kNone;
  // zstd level for kZstd; 1 keeps the commit path fast.
  int zstd_level = 1;
  SyncPolicy sync_policy = SyncPolicy::kNone;
  // For SyncPolicy::kPeriodic: maximum age of unsynced data when a Log() call returns.
  // Callers that log rarely can also call Sync() from a timer.
  std::chrono::milliseconds sync_interval{100};
};

class Writer {
 public:
  // Opens the WAL in `dir` (created if missing): repairs a torn tail of its newest segment
  // and starts a new segment after the last one. If `report` is non-null it receives what
  // the repair did. Returns InvalidArgument for a bad segment_size, DataLoss naming segment
  // and offset if the newest segment is corrupt before its tail, and file-system errors.
  static absl::StatusOr<std::unique_ptr<Writer>> Open(std::string dir, WriterOptions opts,
                                                      RepairReport* report = nullptr);

  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  // Closes the writer if Close() was not called; errors are dropped.
  ~Writer();

  // Appends `recs` in order as one batch: they are written to the file together, possibly
  // in one write with the batches of concurrent calls (see above), before returning, and,
  // with SyncPolicy::kAlways, synced. The bytes are copied; the caller keeps ownership.
  // Returns FailedPrecondition after Close() or an earlier write error, and the file
  // system's error if a write fails.
  absl::Status Log(std::span<const std::string_view> recs);
  absl::Status Log(std::initializer_list<std::string_view> recs) {
    return Log(std::span<const std::string_view>(recs.begin(), recs.size()));
  }

  // Makes every record logged so far durable (fdatasync of the current segment; finished
  // segments are synced when they are finished).
  absl::Status Sync();

  // Finishes the current segment (zero-fills its page, syncs and closes it) and starts
  // the next one. Returns the index of the new segment.
  absl::StatusOr<int> NextSegment();

  // Deletes every segment with index < `upto`. Returns InvalidArgument if `upto` is above
  // the current segment (which must stay), file-system errors otherwise.
  absl::Status Truncate(int upto);

  // Zero-fills the current page to its end, syncs and closes the segment. Returns
  // FailedPrecondition if already closed.
  absl::Status Close();

  // Index of the segment being written and the number of bytes written to it so far
  // (Prometheus's LastSegmentAndOffset).
  std::pair<int, int64_t> LastSegmentAndOffset() const;
  const std::string& dir() const { return dir_; }
  Compression compression() const { return opts_.compression; }
  base::FileSystem& fs() const { return *opts_.fs; }

 private:
  struct Page;
  struct Batch;

  Writer(std::string dir, WriterOptions opts);

  // All Locked functions require mu_.
  absl::Status SetSegmentLocked(int index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `whole_crc` is the CRC32-C of all of `rec`, computed before taking the lock: a record
  // written as one full fragment (the common case) needs no checksum work under mu_.
  absl::Status LogOneLocked(std::string_view rec, uint32_t whole_crc, uint8_t flags)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // clear: ends the current page (the rest is padding) and moves to the next one,
  // writing the buffer out only when it holds no further page. !clear: writes every
  // buffered byte to the file.
  absl::Status FlushPageLocked(bool clear) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Copies the batches into the page buffer in order, writes them and syncs as the policy
  // asks. Returns the first error.
  absl::Status WriteGroupLocked(std::span<Batch* const> group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status NextSegmentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SyncLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckUsableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Sticky(absl::Status s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  const WriterOptions opts_;

  // mu_ protects the page buffer, the current segment file and the writer's state.
  mutable base::Mutex mu_;
  std::unique_ptr<Page> page_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<base::WritableFile> segment_ ABSL_GUARDED_BY(mu_);
  int segment_index_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t done_pages_ ABSL_GUARDED_BY(mu_) = 0;  // whole pages written to the segment
  std::chrono::steady_clock::time_point last_sync_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);  // first write error; sticky
  bool closed_ ABSL_GUARDED_BY(mu_) = false;

  // Group commit. queue_mu_ protects queue_, leading_ and the state and status of every
  // queued Batch (each Batch has a condition variable announcing its state changes). It is
  // a std::mutex so that condition variables and ThreadSanitizer both understand it, and it
  // is never held together with mu_.
  std::mutex queue_mu_;
  std::vector<Batch*> queue_;  // batches waiting for the next leader, in arrival order
  bool leading_ = false;       // a leader is writing (or about to take the queue)
};

}  // namespace strata::tsdb::wal
