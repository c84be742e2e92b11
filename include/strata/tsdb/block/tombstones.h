// strata::tsdb::block tombstones: deleted time ranges per series of a block (Prometheus
// tsdb/tombstones/tombstones.go; ../shared/formats/tsdb-format.md section 6).
//
//   +-----------------------+---------------+---------------------------------+-----------+
//   | magic 0x0130BA30 (4)  | version 1 (1) | (uvarint ref, varint mint,      | crc32c of |
//   |                       |               |  varint maxt) per interval      | entries   |
//   +-----------------------+---------------+---------------------------------+-----------+
//
// Intervals are closed [mint, maxt]. Prometheus writes entries in Go map order; strata writes
// them sorted by series ref then mint (any order reads the same).
//
// Thread-safety: a Tombstones value is not synchronised; share it read-only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/model/sample.h"

namespace strata::tsdb::block {

inline constexpr uint32_t kTombstonesMagic = 0x0130BA30;
inline constexpr uint8_t kTombstonesFormatV1 = 1;
inline constexpr std::string_view kTombstonesFileName = "tombstones";

// A closed time interval [mint, maxt] in ms.
struct Interval {
  int64_t mint = 0;
  int64_t maxt = 0;
  bool InBounds(int64_t t) const { return mint <= t && t <= maxt; }
  friend bool operator==(const Interval&, const Interval&) = default;
};

// Sorted, non-overlapping, non-adjacent intervals.
using Intervals = std::vector<Interval>;

// Adds `n` to sorted intervals `in`, merging it with every interval it overlaps or touches
// (intervals are of discrete ms, so [1,2] and [3,4] merge), as Prometheus's Intervals.Add.
void AddInterval(Intervals* in, Interval n);
// True if [mint, maxt] lies entirely inside one interval of `in`.
bool IsSubrange(const Intervals& in, int64_t mint, int64_t maxt);

class Tombstones {
 public:
  // Deletes [mint, maxt] of series `ref`.
  void Add(model::SeriesRef ref, Interval iv);
  // The intervals of `ref` (empty if none). The reference is valid until the next Add.
  const Intervals& Get(model::SeriesRef ref) const;
  // Number of intervals over all series (meta.json's numTombstones).
  uint64_t NumIntervals() const;
  bool empty() const { return by_ref_.empty(); }
  const std::map<model::SeriesRef, Intervals>& by_ref() const { return by_ref_; }
  friend bool operator==(const Tombstones&, const Tombstones&) = default;

 private:
  std::map<model::SeriesRef, Intervals> by_ref_;
};

// The file content for `ts`.
std::string EncodeTombstones(const Tombstones& ts);
// Decodes a tombstones file. DataLoss "tombstones <name>: <what> at offset N" for a bad
// magic, version, truncated entry or CRC mismatch.
absl::StatusOr<Tombstones> DecodeTombstones(std::string_view data, std::string_view name);

// Reads `<dir>/tombstones`. A missing file reads as no tombstones (Prometheus does the
// same); other errors from the file system or DataLoss.
absl::StatusOr<Tombstones> ReadTombstones(base::FileSystem& fs, const std::string& dir);
// Writes `<dir>/tombstones` durably (tombstones.tmp, sync, rename, sync dir).
absl::Status WriteTombstones(base::FileSystem& fs, const std::string& dir, const Tombstones& ts);

}  // namespace strata::tsdb::block
