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
// ApplyDeletions() is what compaction does with tombstones (Prometheus 2.42's
// populateWithDelChunkSeriesIterator): chunks wholly deleted are dropped, chunks no interval
// touches are copied verbatim, the rest are re-encoded without the deleted samples.
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
#include "strata/chunkenc/xor.h"
#include "strata/model/sample.h"
#include "strata/tsdb/block/block_writer.h"

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
// True if t lies inside an interval of `in` (binary search; `in` sorted as AddInterval keeps
// it).
bool IsDeleted(const Intervals& in, int64_t t);
// True if some interval of `in` intersects the closed range [mint, maxt].
bool Overlaps(const Intervals& in, int64_t mint, int64_t maxt);
// Prometheus's clampInterval: [max(a, mint), min(b, maxt)].
inline Interval ClampInterval(int64_t a, int64_t b, int64_t mint, int64_t maxt) {
  return {a < mint ? mint : a, b > maxt ? maxt : b};
}

class Tombstones {
 public:
  // Deletes [mint, maxt] of series `ref`.
  void Add(model::SeriesRef ref, Interval iv);
  // The intervals of `ref` (empty if none). The reference is valid until the next Add.
  const Intervals& Get(model::SeriesRef ref) const;
  // Adds every interval of `other` (Prometheus merges a block's old tombstones into the new
  // set this way in Block.Delete).
  void Merge(const Tombstones& other);
  // Forgets every interval of series `ref` (Prometheus's DeleteTombstones, for series the head
  // garbage-collected).
  void DeleteSeries(model::SeriesRef ref);
  // Drops intervals that end before `t` (Prometheus's TruncateBefore: the head no longer holds
  // samples there).
  void TruncateBefore(int64_t t);
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

// Applies `deleted` to one series' chunks (sorted by time) as Prometheus 2.42's compaction
// does: a chunk lying inside one deleted interval is dropped; a chunk no interval intersects
// is kept as is; any other chunk is re-encoded through a fresh XOR appender (with `opts`)
// holding only its remaining samples, its time range narrowed to them. A re-encoded chunk left
// without samples is dropped (2.42 would instead stop the series there, losing its later
// chunks: tsdb/querier.go populateWithDelChunkSeriesIterator). Returns DataLoss if a chunk
// does not decode and Unimplemented for a non-XOR chunk that needs re-encoding.
absl::StatusOr<std::vector<EncodedChunk>> ApplyDeletions(std::vector<EncodedChunk> chunks,
                                                         const Intervals& deleted,
                                                         chunkenc::XorOptions opts);

}  // namespace strata::tsdb::block
