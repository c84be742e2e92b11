// strata::tsdb compaction: which blocks to merge (the planner) and merging them into one
// block (Prometheus 2.42's LeveledCompactor, tsdb/compact.go, and the compacting chunk merge
// of storage/merge.go).
//
// Planner (PlanCompaction), in Prometheus's order:
//   1. overlapping blocks: the first run of blocks (by min time) whose ranges overlap
//      (vertical compaction);
//   2. leveled: leaving out the newest block (it was just cut from the head), the first group
//      of blocks lying inside one aligned window of ranges[1], ranges[2], ... that either
//      fills the window or ends before the newest block starts, skipping groups holding a
//      block whose compaction failed;
//   3. tombstones: scanning from the newest (still leaving out the newest block), a single
//      block of at least ranges[len/2] with more than 5% tombstones per series, or a smaller
//      one whose tombstones are at least its series count.
//
// Merging (CompactBlocks) writes ONE block from several input blocks with the block writer:
//   - series are merged by label set across inputs (sorted, as Prometheus's merge set);
//   - chunks that overlap no other chunk of the series are copied verbatim;
//   - overlapping chunks (vertical compaction) are decoded and their samples merged in
//     timestamp order keeping one sample per timestamp (Prometheus's chainSampleIterator;
//     which duplicate survives follows the same Go heap order), then re-encoded into fresh
//     XOR chunks of at most 120 samples (seriesToChunkEncoder); 1:1 identical chunks are
//     deduplicated without re-encoding, as compactChunkIterator does;
//   - tombstoned intervals of the inputs are applied: a chunk wholly deleted is dropped, a
//     chunk cut by a tombstone is re-encoded with its remaining samples, others are copied;
//   - series left with no chunk are dropped; the symbol table is the union of the inputs'
//     symbols (as Prometheus writes it, even for dropped series);
//   - meta.json: range = union of the inputs' ranges, level = max input level + 1, sources =
//     union of the inputs' sources sorted, parents = the inputs (ulid, minTime, maxTime) in
//     the order given (CompactBlockMetas). Vertical compaction sets nothing else.
// The block is written under `<out_dir>/<ULID>.tmp-for-creation` with its final meta.json,
// synced, renamed to `<out_dir>/<ULID>` and `out_dir` synced: a crash leaves either no new
// block (a tmp leftover that DB::Open removes) or the complete one, whose `parents` tell
// DB::Open to delete the inputs if the crash came before they were.
//
// Thread-safety: free functions; CompactBlocks only reads its input blocks (which are
// immutable) and may run concurrently with queries on them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/tsdb/block/block.h"
#include "strata/tsdb/block/meta.h"

namespace strata::tsdb {

// Prometheus's ExponentialBlockRanges(min_size, steps, step_size): min_size * step_size^i
// for i in [0, steps), stopping before an overflow.
std::vector<int64_t> ExponentialBlockRanges(int64_t min_size, int steps, int step_size);

// The compaction ranges of a DB: ExponentialBlockRanges(block_range, 10, 3) cut before the
// first range larger than max_block_duration (Prometheus's tsdb.Open), keeping at least
// block_range itself.
std::vector<int64_t> CompactionRanges(int64_t block_range, int64_t max_block_duration);

struct PlanOptions {
  // Compaction ranges in ms, ascending; ranges[0] is the head block range. Fewer than two
  // ranges disable leveled compaction (step 2).
  std::vector<int64_t> ranges;
  // Merge overlapping blocks first (Prometheus's enableOverlappingCompaction; the server
  // enables it). When false, overlapping blocks are left alone.
  bool enable_overlapping_compaction = true;
};

// The blocks to compact next, as indices into `metas` (any order), sorted by min time then
// by index; empty when there is nothing to do. Never fails: metas are only compared.
std::vector<size_t> PlanCompaction(std::span<const block::BlockMeta> metas,
                                   const PlanOptions& opts);

// The meta a merge of `inputs` gets before its stats are known (Prometheus's
// CompactBlockMetas): range union, level max+1, sorted union of sources, parents in order.
block::BlockMeta CompactBlockMetas(const block::Ulid& ulid,
                                   std::span<const block::BlockMeta> inputs);

struct CompactOptions {
  // Used by the block writer for chunk segment size and XOR byte flavour.
  uint64_t segment_size = block::kDefaultSegmentSize;
  // The output's id. Unset: a new ULID for the current time.
  std::optional<block::Ulid> ulid;
  // meta.json's compaction section, replacing CompactBlockMetas' (e.g. CleanTombstones's
  // rewrite of one block: level 1, sources = the new ULID given in `ulid`, parents = the old
  // block, as 2.42's LeveledCompactor.Write). It is written before the rename, so no crash
  // can leave the block with another section.
  std::optional<block::BlockMetaCompaction> compaction;
};

// Merges `inputs` (at least one; any order is kept for `parents`) into one new block in
// `out_dir` and returns its meta. When every sample of the inputs is deleted or outside
// their ranges, writes nothing and returns a meta with stats.num_samples == 0 (Prometheus
// then marks the inputs deletable). Errors: InvalidArgument for no inputs; DataLoss naming
// the input block and series for corrupt chunks or series out of label order; Unimplemented
// when a non-XOR chunk would have to be re-encoded; the block writer's I/O errors (the
// temporary directory is removed, no block appears).
absl::StatusOr<block::BlockMeta> CompactBlocks(
    base::FileSystem& fs, std::span<const std::shared_ptr<block::Block>> inputs,
    const std::string& out_dir, const CompactOptions& opts = {});

}  // namespace strata::tsdb
