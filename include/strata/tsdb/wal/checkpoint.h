// strata::tsdb::wal checkpoints and replay order (Prometheus tsdb/wlog/checkpoint.go;
// ../shared/formats/tsdb-format.md section 8).
//
// A checkpoint `wal/checkpoint.NNNNNNNN` holds, as ordinary WAL segments, the state of
// every segment up to and including N (and the previous checkpoint) that the head still
// needs: series records of kept series, float and histogram samples and exemplars with
// t >= mint, tombstones with maxt >= mint and, at the end, the latest metadata record of
// each kept series. It
// is built in `checkpoint.NNNNNNNN.tmp` and renamed into place, so a crash leaves either
// the old state or the new one (Open-time cleanup: DeleteTempCheckpoints).
//
// Replay order: the newest checkpoint, then the WAL segments after it (ReplayRanges).
// After a successful Checkpoint(..., to, ...) the caller may delete segments <= to with
// Writer::Truncate(to + 1), as Prometheus's head does.
//
// Thread-safety: these functions may run while a Writer appends to newer segments of the
// same WAL (they only read segments <= `to`), but not concurrently with each other.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/model/sample.h"
#include "strata/tsdb/wal/reader.h"
#include "strata/tsdb/wal/segment.h"

namespace strata::tsdb::wal {

inline constexpr std::string_view kCheckpointPrefix = "checkpoint.";

// What Checkpoint() kept and dropped (Prometheus's CheckpointStats).
struct CheckpointStats {
  int64_t total_series = 0, dropped_series = 0;
  int64_t total_samples = 0, dropped_samples = 0;  // float and histogram samples
  int64_t total_tombstones = 0, dropped_tombstones = 0;
  int64_t total_exemplars = 0, dropped_exemplars = 0;
  int64_t total_metadata = 0, dropped_metadata = 0;
  // Records of unknown type (e.g. from a newer Prometheus), dropped as Prometheus does.
  int64_t dropped_unknown_records = 0;
};

// "<dir>/checkpoint.00000042".
std::string CheckpointDir(std::string_view dir, int index);

struct CheckpointRef {
  std::string path;
  int index = 0;
};

// The newest checkpoint of WAL directory `dir`. Returns NotFound if there is none,
// FailedPrecondition if a checkpoint name is not a directory, file-system errors otherwise.
absl::StatusOr<CheckpointRef> LastCheckpoint(base::FileSystem& fs, const std::string& dir);

// Removes every checkpoint of `dir` with index < `max_index`.
absl::Status DeleteCheckpoints(base::FileSystem& fs, const std::string& dir, int max_index);

// Removes leftover `checkpoint.*.tmp` directories of an interrupted Checkpoint().
absl::Status DeleteTempCheckpoints(base::FileSystem& fs, const std::string& dir);

// Builds checkpoint.`to` from the newest checkpoint (if any) and segments [from, to] of WAL
// directory `dir`, keeping series for which keep(ref) is true and data at or after `mint`
// (see the header comment), then deletes older checkpoints. Segments are not deleted.
// Records are written with `compression`. Returns FailedPrecondition if `from` leaves a gap
// after the newest checkpoint, DataLoss (naming segment and offset) for corrupt input, the
// decoder's DataLoss for a malformed record, and file-system errors; on error no
// checkpoint.`to` is left behind.
absl::StatusOr<CheckpointStats> Checkpoint(base::FileSystem& fs, const std::string& dir, int from,
                                           int to,
                                           const std::function<bool(model::SeriesRef)>& keep,
                                           int64_t mint,
                                           Compression compression = Compression::kNone);

// The segment ranges to replay, in order: the newest checkpoint's segments, then the WAL
// segments of `dir` after that checkpoint (all of them if there is no checkpoint).
absl::StatusOr<std::vector<SegmentRange>> ReplayRanges(base::FileSystem& fs,
                                                       const std::string& dir);

// Reads every record of ReplayRanges(dir) in order and calls `fn` with each (the view is
// valid during the call). Stops at and returns the first error of `fn` or of the reader
// (DataLoss naming segment and offset).
absl::Status Replay(base::FileSystem& fs, const std::string& dir,
                    const std::function<absl::Status(std::string_view record)>& fn);

}  // namespace strata::tsdb::wal
