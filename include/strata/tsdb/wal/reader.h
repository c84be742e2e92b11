// strata::tsdb::wal::Reader and tail repair: reading a Prometheus-format WAL back.
//
// The Reader walks the segments of one or more directories in order (a checkpoint, then
// the WAL segments after it), reassembles fragments, verifies every CRC and decompresses
// Snappy records (type flag 0x08, the default of Prometheus 2.x) and zstd records (0x10,
// Prometheus >= 2.46 and strata). Any corruption (bad CRC, bad fragment sequence, non-zero
// padding, a torn record, an undecodable compressed payload) stops it with DataLoss naming
// the segment file and byte offset.
//
// RepairTail() turns the usual aftermath of a crash into a clean end: if the newest
// segment ends in a torn or corrupt record after which nothing valid follows, the segment
// is cut after its last intact record. Corruption with valid fragments after it is not a
// torn write, so it is reported as DataLoss and left alone.
//
// Thread-safety: a Reader is used by one thread. RepairTail must not run concurrently with
// a Writer on the same directory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/tsdb/wal/segment.h"

namespace strata::tsdb::wal {

// Segments [first, last] of `dir`; -1 leaves that end open.
struct SegmentRange {
  std::string dir;
  int first = -1;
  int last = -1;
};

struct ReaderOptions {
  // nullptr means base::DefaultFileSystem(). Must outlive the reader.
  base::FileSystem* fs = nullptr;
  // Upper bound for one decompressed record, in bytes; a larger zstd payload is reported
  // as DataLoss instead of being inflated (guards against decompression bombs).
  size_t max_record_bytes = size_t{512} << 20;
};

class Reader {
 public:
  // Opens every segment of `ranges`, in the given order. Returns the file system's error
  // for an unreadable directory and DataLoss for non-consecutive segment indexes. Segment
  // files are mapped one at a time while reading.
  static absl::StatusOr<std::unique_ptr<Reader>> Open(std::vector<SegmentRange> ranges,
                                                       ReaderOptions opts = {});
  // Reads one segment held in memory (segment index 0, name "<memory>"). `segment` must
  // outlive the reader.
  static std::unique_ptr<Reader> FromBytes(std::string_view segment, ReaderOptions opts = {});

  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Advances to the next record; false at the end or on error (see status()).
  bool Next();
  // The current record, decompressed. Valid until the next call to Next().
  std::string_view record() const { return record_; }
  // Segment index and byte offset of the current record's first fragment.
  int segment() const { return cur_segment_; }
  int64_t offset() const { return cur_offset_; }
  // Path of the segment being read (empty before the first Next()).
  const std::string& segment_path() const { return cur_path_; }
  // OK at a clean end; otherwise why reading stopped.
  const absl::Status& status() const { return status_; }

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl);
  bool Fail(absl::Status s);

  std::unique_ptr<Impl> impl_;
  std::string record_;
  int cur_segment_ = -1;
  int64_t cur_offset_ = 0;
  std::string cur_path_;
  absl::Status status_;
};

// What RepairTail did.
struct RepairReport {
  bool repaired = false;       // true if the segment was cut
  int segment = -1;            // index of the repaired segment
  std::string path;            // its file
  int64_t offset = 0;          // new size before page padding: end of the last intact record
  int64_t bytes_dropped = 0;   // old file size - offset
  std::string reason;          // the corruption found, e.g. "crc mismatch ... at offset 40"
};

// Checks the newest segment of `dir` and, if it ends in a torn or corrupt record with
// nothing valid after it, truncates it after its last intact record, zero-fills the page
// and syncs it. Returns the report (repaired == false if the tail was intact or there are
// no segments), DataLoss naming the segment and offset for corruption that is not a torn
// tail, and file-system errors.
absl::StatusOr<RepairReport> RepairTail(base::FileSystem& fs, const std::string& dir);

}  // namespace strata::tsdb::wal
