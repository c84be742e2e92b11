// strata::tsdb::block meta.json and block ids (ULIDs) (Prometheus tsdb/block.go;
// ../shared/formats/tsdb-format.md section 2).
//
// meta.json is written as Go's json.MarshalIndent(meta, "", "\t") writes Prometheus's
// BlockMeta: tab indentation, no trailing newline, fields in declaration order, `omitempty`
// fields left out when zero. A top-level "thanos" object (Thanos's block metadata) is kept
// verbatim on read and written back after "version".
//
// Thread-safety: plain values; NewUlid() is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/file_system.h"

namespace strata::tsdb::block {

// A ULID: 48 bits of Unix milliseconds then 80 random bits, printed as 26 characters of
// Crockford base32. Ordering of ids follows creation time.
class Ulid {
 public:
  Ulid() = default;
  // From the millisecond time and 10 bytes of entropy.
  static Ulid FromParts(uint64_t unix_ms, const std::array<uint8_t, 10>& entropy);
  // Parses the 26-character text form (case-insensitive). InvalidArgument if malformed or
  // if it overflows 128 bits.
  static absl::StatusOr<Ulid> Parse(std::string_view s);

  std::string ToString() const;
  uint64_t time_ms() const;
  const std::array<uint8_t, 16>& bytes() const { return b_; }
  friend auto operator<=>(const Ulid&, const Ulid&) = default;

 private:
  std::array<uint8_t, 16> b_{};
};

// A new id for time `unix_ms` with random entropy from a process-wide generator.
Ulid NewUlid(uint64_t unix_ms);
// The current wall-clock time in Unix milliseconds.
uint64_t NowUnixMs();

struct BlockStats {
  uint64_t num_samples = 0;
  uint64_t num_series = 0;
  uint64_t num_chunks = 0;
  uint64_t num_tombstones = 0;
  friend bool operator==(const BlockStats&, const BlockStats&) = default;
};

struct BlockDesc {
  Ulid ulid;
  int64_t min_time = 0;
  int64_t max_time = 0;
  friend bool operator==(const BlockDesc&, const BlockDesc&) = default;
};

struct BlockMetaCompaction {
  int level = 0;                  // 1 for a block written from the head
  std::vector<Ulid> sources;      // level-1 ancestors, sorted
  bool deletable = false;
  std::vector<BlockDesc> parents; // direct inputs of a merge
  bool failed = false;
  std::vector<std::string> hints; // e.g. "from-out-of-order"
  friend bool operator==(const BlockMetaCompaction&, const BlockMetaCompaction&) = default;
};

inline constexpr int kMetaVersion1 = 1;

struct BlockMeta {
  Ulid ulid;
  int64_t min_time = 0;  // ms, inclusive
  int64_t max_time = 0;  // ms, exclusive
  BlockStats stats;
  BlockMetaCompaction compaction;
  int version = kMetaVersion1;
  // The top-level "thanos" object as compact JSON text, or empty if absent.
  std::string thanos_json;
  friend bool operator==(const BlockMeta&, const BlockMeta&) = default;
};

// The text Prometheus 2.42 writes for `meta` (no trailing newline).
std::string EncodeMeta(const BlockMeta& meta);
// Parses meta.json text. InvalidArgument (with `name` and the JSON offset or field) for
// malformed JSON, wrong field types or ULIDs; FailedPrecondition-free: an unsupported
// "version" (anything but 1) is InvalidArgument too. Unknown top-level fields other than
// "thanos" are ignored, as Go's decoder does.
absl::StatusOr<BlockMeta> DecodeMeta(std::string_view text, std::string_view name = "meta.json");

// Reads `<dir>/meta.json`. The file system's error, or DataLoss naming the file when the
// content does not decode.
absl::StatusOr<BlockMeta> ReadMeta(base::FileSystem& fs, const std::string& dir);
// Writes `<dir>/meta.json` durably (meta.json.tmp, sync, rename, sync dir).
absl::Status WriteMeta(base::FileSystem& fs, const std::string& dir, const BlockMeta& meta);

}  // namespace strata::tsdb::block
