// strata::tsdb head <-> write-ahead log: the WalSink that writes commits to a wal::Writer,
// and replay of a WAL directory into a Head.
//
// A commit becomes one Writer::Log() batch of two records, a series record for the series
// it introduces (if any) and then a samples record (Prometheus's record types 1 and 2), so
// with wal::SyncPolicy::kAlways the batch is durable when Commit() returns. A crash tears
// at most the last batch; the reader's tail repair drops a torn record, so each commit's
// samples come back entirely or not at all. Head::Delete logs one tombstones record (type 3)
// per call; replay applies it after the series it names (Head::ReplayTombstones).
//
// Thread-safety: WalWriterSink is thread-safe (wal::Writer is); ReplayWal requires that no
// appender is active on the head.
#pragma once

#include <span>
#include <string>

#include "absl/status/status.h"
#include "strata/base/file_system.h"
#include "strata/tsdb/head.h"
#include "strata/tsdb/record/record.h"
#include "strata/tsdb/wal/writer.h"

namespace strata::tsdb {

class WalWriterSink final : public WalSink {
 public:
  // `w` is borrowed and must outlive the sink.
  explicit WalWriterSink(wal::Writer* w) : w_(w) {}
  // Encodes the records (outside the writer's lock) and logs them as one batch. Returns the
  // writer's error.
  absl::Status Log(std::span<const record::RefSeries> series,
                   std::span<const record::RefSample> samples) override;
  // Encodes one tombstones record and logs it. Returns the writer's error.
  absl::Status LogTombstones(std::span<const record::RefTombstone> stones) override;

 private:
  wal::Writer* w_;
};

// What ReplayWal read.
struct WalReplayStats {
  uint64_t series_records = 0;
  uint64_t sample_records = 0;
  uint64_t tombstone_records = 0;
  uint64_t other_records = 0;  // exemplars, metadata, ...: skipped by the head
  uint64_t series = 0;
  uint64_t samples = 0;
  uint64_t tombstones = 0;  // intervals read (including those the head dropped)
};

// Replays the newest checkpoint and the WAL segments after it in `dir` into `head` (series,
// samples and tombstones, in log order). Run wal::RepairTail first after a crash: a torn tail is
// otherwise reported as DataLoss. Returns the reader's DataLoss naming segment and offset,
// a record decoder's DataLoss, or the head's error, annotated with `dir`.
absl::Status ReplayWal(base::FileSystem& fs, const std::string& dir, Head& head,
                       WalReplayStats* stats = nullptr);

}  // namespace strata::tsdb
