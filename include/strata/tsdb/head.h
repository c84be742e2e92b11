// strata::tsdb head block: the in-memory, writable part of the database (Prometheus's
// tsdb/head.go, head_append.go, head_read.go as of 2.42).
//
// The head keeps, per series, its labels and its samples as XOR chunks. Chunks are cut as
// Prometheus 2.42's head cuts them (../shared/formats/tsdb-format.md section 5), so blocks
// written from the head later carry the same chunk boundaries and bytes as promtool's:
//   - a new chunk ends at the end of the aligned chunk_range window holding its first sample;
//   - at samples_per_chunk/4 (30) samples that end is re-estimated so the remaining window is
//     split into chunks of about samples_per_chunk samples;
//   - a sample at or past the end, or arriving when the chunk holds 2*samples_per_chunk (240),
//     starts a new chunk.
//
// Series are found by labels hash in a striped registry (hash -> collision chain compared by
// labels) and by ref; refs are monotonic ids from 1, never reused. Appenders look refs up
// without locks, in an atomic ref -> series table, and touch a series only at commit:
// Truncate() removes series only while no appender that could hold one is open. Series it
// removes stay allocated (and are reused for new series) until no appender can still hold
// them. The inverted index is an index::MemPostings.
//
// Appenders follow Prometheus's rules. Append checks against the committed state and
// returns, without consuming the sample:
//   OutOfBoundsError   t < the appender's minimum valid time, which is
//                      max(Truncate()'s mint, head max time - chunk_range/2);
//   OutOfOrderSampleError  t < the series' newest committed sample;
//   DuplicateSampleError   t == the newest committed sample with a different value (the same
//                          value is accepted and later dropped silently).
// Commit() logs new series and then the samples to the WalSink (if any), and only then makes
// the batch visible, atomically with respect to queriers. Samples of one batch that are out
// of order relative to each other are dropped at commit, as Prometheus does.
//
// Queriers snapshot the series they select (labels and the bytes of the chunks overlapping
// [mint, maxt]) when Select() runs, so iteration takes no locks and is unaffected by later
// appends or Truncate(). A commit is never half visible: commits apply under a shared lock
// that Select takes exclusively while snapshotting.
//
// Delete() records deleted intervals per series (Prometheus's head tombstones): logged to the
// WalSink as a tombstones record (type 3) first, then applied in memory. Queriers skip
// deleted samples, and series whose selected chunks are all deleted, as Prometheus's
// blockQuerier does over the head. Samples stay in the chunks; block writers apply the
// intervals (TombstonesSnapshot(), block::ApplyDeletions) so deleted data never reaches a
// block. Truncate() drops the intervals of removed series and those ending before its mint.
//
// Thread-safety: Head is thread-safe. Each Appender is used by one thread at a time (many
// appenders may run concurrently); each Querier by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/chunkenc/xor.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"
#include "strata/model/matcher.h"
#include "strata/storage/querier.h"
#include "strata/tsdb/block/tombstones.h"
#include "strata/tsdb/record/record.h"

namespace strata::tsdb {

// Where Commit() writes a batch before making it visible (the WAL). Log() must make the
// series and then the samples durable according to its own policy and is called
// concurrently by committing appenders. An error aborts the commit: nothing of the batch
// becomes visible and the appender reports the error.
class WalSink {
 public:
  virtual ~WalSink() = default;
  // `series` may be empty; `samples` may be empty when only new series are logged (by a
  // Rollback, since series are created in the head at Append time).
  virtual absl::Status Log(std::span<const record::RefSeries> series,
                           std::span<const record::RefSample> samples) = 0;
  // Logs deleted intervals (one tombstones record) durably before Head::Delete applies them.
  // The default returns Unimplemented, failing the Delete, so a sink that cannot persist
  // tombstones never loses a deletion silently.
  virtual absl::Status LogTombstones(std::span<const record::RefTombstone> stones) {
    (void)stones;
    return absl::UnimplementedError("this WalSink does not log tombstones");
  }
};

struct HeadOptions {
  // Milliseconds; the block duration the head aligns chunk ends to. Prometheus default 2h.
  int64_t chunk_range = 2 * 60 * 60 * 1000;
  // Target samples per chunk (Prometheus samplesPerChunk). Re-estimation happens at a quarter
  // of it, a forced cut at twice it.
  int samples_per_chunk = 120;
  // Chunk byte format. The default writes Prometheus 2.42's bytes so blocks match promtool.
  chunkenc::XorOptions xor_options{.prometheus_2_42 = true};
  // Number of lock stripes of the series registry (a power of two). Prometheus uses 16384.
  int stripe_size = 16384;
  // Borrowed; must outlive the head. Null: commits are not logged anywhere.
  WalSink* wal = nullptr;
};

// Counters of samples the head dropped or refused, for observability and tests.
struct HeadStats {
  uint64_t num_series = 0;
  uint64_t num_chunks = 0;           // closed plus open chunks
  uint64_t samples_appended = 0;     // committed into chunks
  uint64_t out_of_order_samples = 0; // refused at Append or dropped at Commit/replay
  uint64_t out_of_bounds_samples = 0;
  uint64_t duplicate_samples = 0;    // refused (different value) at Append
  uint64_t series_created = 0;
  uint64_t series_removed = 0;
  uint64_t chunks_removed = 0;
  // Blocks of 65,536 refs of the lock-free ref table whose memory went back to the kernel
  // once all their series were removed.
  uint64_t ref_table_blocks_released = 0;
  // Truncate() calls that kept empty series for a later call because an appender opened
  // before them was still open after a second (see Head::Truncate).
  uint64_t gc_deferred = 0;
  // Appenders that started while a Truncate() was waiting to remove series, and so pinned
  // each series they used (one more lock per sample at Append).
  uint64_t pinned_appenders = 0;
};

// A read-only view of one chunk of a series, passed to ForEachSeries callbacks.
struct HeadChunkView {
  int64_t mint = 0;
  int64_t maxt = 0;
  std::string_view bytes;  // XOR chunk data (valid during the callback only)
};

class Head final : public storage::Queryable, public storage::Appendable {
 public:
  explicit Head(HeadOptions opts = {});
  ~Head() override;
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // A new appender. Never fails; errors surface from Append/Commit.
  std::unique_ptr<storage::Appender> NewAppender() override;

  // A querier over [mint, maxt]. Never fails for a live head.
  absl::StatusOr<std::unique_ptr<storage::Querier>> NewQuerier(int64_t mint,
                                                               int64_t maxt) override;

  // Drops chunks whose samples are all before `mint`, then series left without samples
  // (and without pending appends), and refuses later samples before `mint`. Appenders do not
  // pin the series they use unless they start during a Truncate, so series are removed only
  // once the appenders open when it started have ended: it waits up to a second for them,
  // and if one is still open (for example, held by the calling thread) leaves the removal
  // of empty series to its next call (HeadStats::gc_deferred). Returns OK; an error is
  // reserved for future persistence of head chunks.
  absl::Status Truncate(int64_t mint);

  // Replays WAL records in log order. Series keep the refs they were logged with (a ref
  // logged twice with the same labels is one series; the same labels under a second ref map
  // onto the first series). Samples follow the commit rules: out-of-order samples are
  // counted and dropped, samples of unknown refs are counted and dropped. Requires: no
  // appender is active. Returns InvalidArgument for an empty label set.
  absl::Status ReplaySeries(std::span<const record::RefSeries> series);
  absl::Status ReplaySamples(std::span<const record::RefSample> samples);
  // Replays a tombstones record as Prometheus's loadWAL does: intervals ending before the
  // minimum valid time (Truncate()'s mint) are skipped, intervals of unknown refs are counted
  // and dropped, the rest are added. Returns OK.
  absl::Status ReplayTombstones(std::span<const record::RefTombstone> stones);
  // Number of samples and tombstone intervals replay dropped because their ref was never
  // logged as a series.
  uint64_t replay_unknown_refs() const;

  // Prometheus's Head.Delete: [mint, maxt] is clamped to the head's [MinTime(), MaxTime()]
  // and then, for every series matching `matchers` that has samples, to the series' own
  // first..last sample times (a series without samples in the range gets no interval); the
  // intervals are logged to the WalSink (one tombstones record; nothing is logged when no
  // series matched) and then added to the
  // series' tombstones. Returns InvalidArgument from matcher resolution (e.g. no matcher
  // selects anything), or the sink's error, in which case nothing is deleted.
  absl::Status Delete(int64_t mint, int64_t maxt, const std::vector<model::Matcher>& matchers);

  // A copy of the deleted intervals by series ref, for block writers.
  block::Tombstones TombstonesSnapshot() const;

  // Smallest and largest committed timestamps; INT64_MAX / INT64_MIN while empty.
  int64_t MinTime() const;
  int64_t MaxTime() const;

  HeadStats Stats() const;

  // Calls `fn` for each series (in no particular order) with its labels and chunks, under the
  // series' lock: `fn` must not call back into the head. For block writers and debugging.
  void ForEachSeries(const std::function<void(model::SeriesRef ref, const model::Labels&,
                                              std::span<const HeadChunkView>)>& fn) const;
  // Calls `fn` for each series in label order, with no head lock held: the label sets are
  // collected and sorted first (shared buffers, no chunk bytes), then each series' chunks
  // are copied under its lock into a buffer `fn` sees (valid during the call). Series
  // removed meanwhile are skipped. For block writers that stream their output
  // (BlockWriterOptions::sorted_series): appends never wait for their I/O.
  void ForEachSeriesSorted(
      const std::function<void(model::SeriesRef ref, const model::Labels&,
                               std::span<const HeadChunkView>)>& fn) const;

  const HeadOptions& options() const;

  // Implementation (lib/tsdb/head.cc); opaque to users.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::tsdb
