// strata::tsdb::block BlockWriter: persists a set of series as a Prometheus block directory
// (meta.json, index, chunks/, tombstones), byte-identical to what Prometheus 2.42 writes for
// the same samples (promtool tsdb create-blocks-from, or a head compaction).
//
// Series may be added in any order; Flush() sorts them by labels. Samples given as raw
// (t, v) pairs are cut into XOR chunks exactly as the 2.42 head does
// (../shared/formats/tsdb-format.md section 5): a chunk ends at the end of the aligned
// `chunk_range` window of its first sample, re-estimated once it holds 30 samples so that
// the remaining window is split evenly, and never holds more than 240 samples; chunk bytes
// use the 2.42 bit writer. Already-encoded chunks are written verbatim.
//
// The block is written under `<parent>/<ULID>.tmp-for-creation`, every file synced, then
// renamed to `<parent>/<ULID>` and the parent synced; on error the temporary directory is
// removed (best effort).
//
// Memory: by default, added series and their samples or chunks are held until Flush() sorts
// them. With BlockWriterOptions::sorted_series the caller adds series in label order and each
// series' chunks go to the chunk files at once, so only label sets and chunk references
// (24 bytes a chunk) stay in memory: compactions merge sorted inputs and use this. Either way
// chunks reach the files through the same path, so the bytes are the same.
// Thread-safety: not thread-safe; one owner drives a writer.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/chunkenc/xor.h"
#include "strata/index/index_writer.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"
#include "strata/tsdb/block/chunks.h"
#include "strata/tsdb/block/meta.h"

namespace strata::tsdb::block {

inline constexpr int64_t kDefaultChunkRange = 2 * 60 * 60 * 1000;  // 2h in ms

struct BlockWriterOptions {
  // The head's chunk range in ms (Prometheus: the minimum block duration, 2h); decides
  // where chunks are cut. Must be > 0.
  int64_t chunk_range = kDefaultChunkRange;
  // Maximum bytes per chunk segment file.
  uint64_t segment_size = kDefaultSegmentSize;
  // Write 2.42's XOR bytes (the default, for byte identity with promtool 2.42) or 3.x's.
  bool prometheus_2_42 = true;
  // The block's time range. Unset: [smallest timestamp, largest timestamp + 1), as promtool
  // create-blocks-from writes. Every sample must lie in [min_time, max_time).
  std::optional<int64_t> min_time;
  std::optional<int64_t> max_time;
  // The block id. Unset: a new ULID for the current time.
  std::optional<Ulid> ulid;
  // meta.json's compaction section. Unset: a head block's (level 1, sources = the block's own
  // ULID). A compactor sets it so that meta.json is final before the directory is renamed into
  // place (a crash can then never leave a merged block that claims to be a level-1 block).
  std::optional<BlockMetaCompaction> compaction;
  // Series are added in strictly increasing label order and written as they come (see
  // Memory above); a series out of order is refused with InvalidArgument.
  bool sorted_series = false;
};

// An already-encoded chunk for AddChunks: its closed time range and bytes.
struct EncodedChunk {
  int64_t min_time = 0;
  int64_t max_time = 0;
  chunkenc::Encoding encoding = chunkenc::Encoding::kXor;
  std::string data;
  // Samples in the chunk, for meta.json's numSamples.
  uint64_t num_samples = 0;
};

// Cuts `samples` (strictly increasing timestamps) into XOR chunks as the Prometheus 2.42 head
// does for chunk range `chunk_range`. Exposed for the head and for tests.
std::vector<EncodedChunk> CutChunks(const std::vector<model::Sample>& samples,
                                    int64_t chunk_range, chunkenc::XorOptions opts);

// CutChunks one sample at a time, for callers that encode while they read (strata-tsdb
// create-blocks-from keeps only encoded chunks, never raw samples). Appending the samples of
// `CutChunks(samples, ...)` one by one and calling Finish() gives the same chunks.
// Movable (the open chunk lives on the heap, so the appender's buffer pointer survives a
// move). Not thread-safe.
class ChunkCutter {
 public:
  explicit ChunkCutter(int64_t chunk_range = kDefaultChunkRange, chunkenc::XorOptions opts = {});

  // Appends one sample. Requires: empty() or t > last_t().
  void Append(int64_t t, double v);
  bool empty() const { return num_samples_ == 0; }
  // Timestamp and value of the last appended sample. Requires: !empty().
  int64_t last_t() const { return last_t_; }
  double last_v() const { return last_v_; }
  uint64_t num_samples() const { return num_samples_; }

  // Closes the open chunk and returns every chunk in time order; the cutter is empty after.
  std::vector<EncodedChunk> Finish();

 private:
  int64_t chunk_range_;
  chunkenc::XorOptions opts_;
  std::vector<EncodedChunk> done_;
  std::unique_ptr<EncodedChunk> cur_;
  std::optional<chunkenc::XorAppender> app_;
  int64_t next_at_ = 0;
  int64_t last_t_ = 0;
  double last_v_ = 0;
  uint64_t num_samples_ = 0;
};

class BlockWriter {
 public:
  // `parent` is the directory the block is created in (it must exist).
  BlockWriter(base::FileSystem& fs, std::string parent, BlockWriterOptions opts = {});
  ~BlockWriter();
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;

  // Adds a series with its samples (any order; sorted here). A repeated timestamp with the
  // same value bits is dropped, as the head drops duplicates. InvalidArgument for an empty
  // label set, a label set added before (or, with sorted_series, not after the previous
  // one), a repeated timestamp with a different value, or (with sorted_series and a set
  // time range) a sample outside the range. A series without samples is accepted and left
  // out of the block. With sorted_series, the chunk files' write error.
  absl::Status AddSeries(model::Labels lset, std::vector<model::Sample> samples);
  // Adds a series with encoded chunks (sorted by time, non-overlapping). InvalidArgument for
  // an empty or repeated label set or chunks out of order; otherwise as AddSeries.
  absl::Status AddChunks(model::Labels lset, std::vector<EncodedChunk> chunks);
  // Adds `symbol` to the index's symbol table even if no series uses it. Prometheus's
  // compactor writes the union of its inputs' symbols, including those of series that were
  // dropped (deleted by tombstones); this reproduces its index bytes.
  void AddSymbol(std::string symbol);

  // Writes the block and returns its meta (meta.ulid names the directory). FailedPrecondition
  // if called twice or if no series has samples (Prometheus does not write empty blocks);
  // InvalidArgument if a sample lies outside the configured range; I/O errors otherwise.
  // A writer destroyed without a successful Flush() removes what it wrote.
  absl::StatusOr<BlockMeta> Flush();

 private:
  struct Series;
  // A series written to the chunk files: its labels and chunk references.
  struct Written {
    model::Labels lset;
    std::vector<index::ChunkMeta> chunks;
  };
  // Writes one series' chunks (series in increasing label order), creating the temporary
  // block directory on first use.
  absl::Status WriteSeries(model::Labels lset, std::vector<EncodedChunk> chunks);
  absl::Status WriteSorted(model::Labels lset, std::vector<EncodedChunk> chunks);
  absl::StatusOr<BlockMeta> Finish();
  std::string FinalDir() const;

  base::FileSystem& fs_;
  std::string parent_;
  BlockWriterOptions opts_;
  std::vector<Series> series_;  // unsorted mode: held until Flush
  std::set<std::string> extra_symbols_;
  bool flushed_ = false;
  // Written state, shared by both modes.
  std::optional<Ulid> ulid_;
  std::string tmp_;  // the temporary directory once created, until renamed
  std::unique_ptr<ChunkWriter> chunk_writer_;
  std::vector<Written> written_;
  absl::Status error_;  // first write error: later calls return it
  int64_t mint_ = std::numeric_limits<int64_t>::max();
  int64_t maxt_ = std::numeric_limits<int64_t>::min();
  uint64_t num_samples_ = 0;
  uint64_t num_chunks_ = 0;
};

}  // namespace strata::tsdb::block
