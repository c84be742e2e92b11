// strata::tsdb::block Block: a persisted block directory opened for reading, and the
// storage::Querier over it (Prometheus tsdb/block.go and the block querier of
// tsdb/querier.go, 2.42).
//
//   <dir>/meta.json  <dir>/index  <dir>/chunks/000001 ...  <dir>/tombstones
//
// Open() reads meta.json, maps the index and the chunk segments, and reads the tombstones;
// any failure names the file. Queriers pin the block (they hold a shared_ptr), so a block
// stays mapped while a querier or a series set obtained from it lives.
//
// Query semantics follow Prometheus's blockQuerier: matchers resolve to postings through
// index::PostingsForMatchers; a series is returned if it has a chunk overlapping the
// querier's closed range [mint, maxt] that is not entirely deleted by tombstones; its samples
// are clipped to [mint, maxt] and skip tombstoned intervals. LabelNames/LabelValues without
// matchers answer from the index alone (whatever the time range), as Prometheus does.
//
// Thread-safety: a Block is immutable after Open() and safe to share; each Querier is
// single-threaded (storage::Querier's contract).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/index/index_reader.h"
#include "strata/storage/querier.h"
#include "strata/tsdb/block/chunks.h"
#include "strata/tsdb/block/meta.h"
#include "strata/tsdb/block/tombstones.h"

namespace strata::tsdb::block {

class Block final : public storage::Queryable, public std::enable_shared_from_this<Block> {
 public:
  // Opens the block directory `dir`. Errors carry the failing file's path: the file
  // system's error (NotFound for a missing meta.json or index), or DataLoss for corrupt
  // content.
  static absl::StatusOr<std::shared_ptr<Block>> Open(base::FileSystem& fs, std::string dir);
  ~Block() override;

  const std::string& dir() const { return dir_; }
  const BlockMeta& meta() const { return meta_; }
  const index::IndexReader& index() const { return *index_; }
  const ChunkReader& chunks() const { return *chunks_; }
  const Tombstones& tombstones() const { return tombstones_; }
  // Bytes of the index, chunk segments and tombstones.
  uint64_t size() const;

  // A querier over the closed range [mint, maxt] that keeps this block alive.
  absl::StatusOr<std::unique_ptr<storage::Querier>> NewQuerier(int64_t mint,
                                                               int64_t maxt) override;

  // Prometheus's Block.Delete: every series matching `matchers` with a chunk overlapping the
  // closed range [mint, maxt] gets that range, clamped to the series' own first..last chunk
  // times, added to its tombstones (merged as Intervals.Add). `tombstones` is rewritten
  // atomically (tombstones.tmp, fsync, rename, fsync dir), then meta.json with the new
  // numTombstones, and the block is reopened from disk and returned; this object is not
  // modified, so queriers already open keep their view. Returns this block when no interval
  // changes (nothing is written). Errors: the index's, the file system's (the block on disk
  // then holds either the old or the new tombstones file), or the reopen's.
  absl::StatusOr<std::shared_ptr<Block>> Delete(base::FileSystem& fs, int64_t mint, int64_t maxt,
                                                const std::vector<model::Matcher>& matchers);

 private:
  Block() = default;
  std::string dir_;
  BlockMeta meta_;
  std::unique_ptr<index::IndexReader> index_;
  std::unique_ptr<ChunkReader> chunks_;
  Tombstones tombstones_;
  uint64_t tombstones_size_ = 0;
};

}  // namespace strata::tsdb::block
