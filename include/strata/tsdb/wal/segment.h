// strata::tsdb::wal segment layout: constants, names and directory listing shared by the
// writer, the reader and checkpoints. Prometheus's tsdb/wlog layout
// (../shared/formats/tsdb-format.md sections 7 and 8):
//
//   wal/00000000, 00000001, ...   segments, 8-digit names, default 128 MiB each
//   segment = 32 KiB pages; a page = fragments, then zero padding to the page end
//   fragment = type(1) | len(2 BE) | crc32c(data)(4 BE) | data(len)
//   type bits: 0x07 fragment kind (0 padding, 1 full, 2 first, 3 middle, 4 last),
//              0x08 Snappy-compressed record (read only), 0x10 zstd (Prometheus
//              >= 2.46), set on every fragment of the record
//   a fragment never crosses a page; fewer than 7 bytes left -> the rest is zeros;
//   a record never crosses a segment.
//   wal/checkpoint.NNNNNNNN/       a checkpoint: segments in the same format
//
// Thread-safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/file_system.h"

namespace strata::tsdb::wal {

inline constexpr int64_t kPageSize = 32 * 1024;
inline constexpr int64_t kDefaultSegmentSize = 128 * 1024 * 1024;
inline constexpr int64_t kFragmentHeaderSize = 7;

// Fragment type byte (see the layout above).
inline constexpr uint8_t kFragmentKindMask = 0x07;
inline constexpr uint8_t kFragmentPadding = 0;
inline constexpr uint8_t kFragmentFull = 1;
inline constexpr uint8_t kFragmentFirst = 2;
inline constexpr uint8_t kFragmentMiddle = 3;
inline constexpr uint8_t kFragmentLast = 4;
inline constexpr uint8_t kSnappyFlag = 0x08;
inline constexpr uint8_t kZstdFlag = 0x10;

// How record payloads are compressed on write. Readers accept both regardless.
enum class Compression { kNone, kZstd };

// "<dir>/00000042".
std::string SegmentName(std::string_view dir, int index);

// A segment file of a directory.
struct SegmentRef {
  int index = 0;
  std::string name;  // file name within the directory, e.g. "00000042"
};

// Lists the segments of `dir` (entries whose names are all digits), in index order.
// Returns the file system's error if `dir` cannot be read and DataLoss if the indexes are
// not consecutive ("segments not sequential in /d/wal: 00000005 follows 00000003").
absl::StatusOr<std::vector<SegmentRef>> ListSegments(base::FileSystem& fs, const std::string& dir);

// The first and last segment index of `dir`, or {-1, -1} if it has none. Errors as
// ListSegments.
absl::StatusOr<std::pair<int, int>> SegmentBounds(base::FileSystem& fs, const std::string& dir);

}  // namespace strata::tsdb::wal
