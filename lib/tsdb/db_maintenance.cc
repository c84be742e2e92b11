// DB maintenance (see strata/tsdb/db.h): Delete, CleanTombstones, Snapshot, size retention,
// and writing head data as a block (shared by head compaction and snapshots). Kept apart from
// db.cc so the compaction work there and this work change different files. CleanTombstones
// rewrites a block with the compactor (strata/tsdb/compact.h, CompactBlocks).
#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "strata/base/status.h"
#include "strata/chunkenc/xor.h"
#include "strata/tsdb/block/block_writer.h"
#include "strata/tsdb/block/tombstones.h"
#include "strata/tsdb/compact.h"
#include "strata/tsdb/db.h"

namespace strata::tsdb {
namespace {

constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

// Samples in an XOR chunk; DataLoss if it does not decode.
absl::StatusOr<uint64_t> CountSamples(std::string_view bytes) {
  chunkenc::XorIterator it(bytes);
  uint64_t n = 0;
  while (it.Next()) ++n;
  STRATA_RETURN_IF_ERROR(it.status());
  return n;
}

// Total bytes of the files below `path` (Prometheus's fileutil.DirSize, used for the WAL's
// size in retention). A missing directory has size 0.
absl::StatusOr<uint64_t> DirSize(base::FileSystem& fs, const std::string& path) {
  STRATA_ASSIGN_OR_RETURN(bool exists, fs.Exists(path));
  if (!exists) return 0;
  STRATA_ASSIGN_OR_RETURN(bool is_dir, fs.IsDirectory(path));
  if (!is_dir) return fs.FileSize(path);
  STRATA_ASSIGN_OR_RETURN(auto names, fs.ListDir(path));
  uint64_t total = 0;
  for (const std::string& name : names) {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, DirSize(fs, base::JoinPath(path, name)));
    total += n;
  }
  return total;
}

// Prometheus's Block.Size: chunks + index + tombstones + meta.json bytes.
absl::StatusOr<uint64_t> BlockBytes(base::FileSystem& fs, const block::Block& b) {
  STRATA_ASSIGN_OR_RETURN(uint64_t meta, fs.FileSize(base::JoinPath(b.dir(), "meta.json")));
  return b.size() + meta;
}

// Hard-links `from` to `to`, or copies it (synced) when the file system cannot link, e.g.
// across devices.
absl::Status LinkOrCopy(base::FileSystem& fs, const std::string& from, const std::string& to) {
  if (fs.Link(from, to).ok()) return absl::OkStatus();
  STRATA_ASSIGN_OR_RETURN(std::string data, fs.ReadFile(from));
  STRATA_ASSIGN_OR_RETURN(auto f, fs.OpenWritable(to));
  STRATA_RETURN_IF_ERROR(f->Append(data));
  STRATA_RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

// Prometheus's Block.Snapshot: `dir`/<ULID>/ with meta.json, index, tombstones and every
// chunk segment linked from the block.
absl::Status SnapshotBlock(base::FileSystem& fs, const block::Block& b, const std::string& dir) {
  const std::string out = base::JoinPath(dir, b.meta().ulid.ToString());
  const std::string out_chunks = base::JoinPath(out, "chunks");
  STRATA_RETURN_IF_ERROR(fs.CreateDirs(out_chunks));
  for (const char* name : {"meta.json", "index", "tombstones"}) {
    const std::string from = base::JoinPath(b.dir(), name);
    // A block written without a tombstones file (Prometheus always writes one) reads as
    // having none; the snapshot then has none either.
    if (std::string_view(name) == block::kTombstonesFileName) {
      STRATA_ASSIGN_OR_RETURN(bool exists, fs.Exists(from));
      if (!exists) continue;
    }
    STRATA_RETURN_IF_ERROR(LinkOrCopy(fs, from, base::JoinPath(out, name)));
  }
  const std::string chunks = base::JoinPath(b.dir(), "chunks");
  STRATA_ASSIGN_OR_RETURN(auto names, fs.ListDir(chunks));
  for (const std::string& name : names) {
    STRATA_RETURN_IF_ERROR(
        LinkOrCopy(fs, base::JoinPath(chunks, name), base::JoinPath(out_chunks, name)));
  }
  STRATA_RETURN_IF_ERROR(fs.SyncDir(out_chunks));
  STRATA_RETURN_IF_ERROR(fs.SyncDir(out));
  return fs.SyncDir(dir);
}

// Writes block `b` without its tombstoned samples as a new block under `parent` with the
// same time range (CompactBlocks with `b` as the only input: chunks untouched by tombstones
// are copied verbatim, cut ones re-encoded) and the meta Prometheus 2.42's
// LeveledCompactor.Write(dest, b, mint, maxt, parent) writes: level 1, sources = the new
// block, parents = `b`. meta.json is final before the block is renamed into place, so a
// crash leaves either no new block or this one, whose parent Open then deletes. Returns
// nullopt (writing nothing) when no sample is left.
absl::StatusOr<std::optional<block::BlockMeta>> RewriteWithoutTombstones(
    base::FileSystem& fs, const std::shared_ptr<block::Block>& b, const std::string& parent) {
  const block::BlockMeta& old = b->meta();
  CompactOptions copts;
  copts.ulid = block::NewUlid(block::NowUnixMs());
  block::BlockMetaCompaction c;
  c.level = 1;
  c.sources = {*copts.ulid};
  c.parents = {{old.ulid, old.min_time, old.max_time}};
  copts.compaction = std::move(c);
  const std::shared_ptr<block::Block> inputs[1] = {b};
  STRATA_ASSIGN_OR_RETURN(block::BlockMeta m, CompactBlocks(fs, inputs, parent, copts));
  if (m.stats.num_samples == 0) return std::optional<block::BlockMeta>();
  return std::optional<block::BlockMeta>(std::move(m));
}

}  // namespace

absl::StatusOr<std::optional<block::BlockMeta>> DB::WriteHeadBlockLocked(const std::string& parent,
                                                                         int64_t mint,
                                                                         int64_t maxt) {
  block::BlockWriterOptions bopts;
  bopts.chunk_range = opts_.block_range;
  bopts.min_time = mint;
  bopts.max_time = maxt;
  const chunkenc::XorOptions xopts{.prometheus_2_42 = bopts.prometheus_2_42};
  // Series come in label order and each goes to the chunk files as it is visited, so no
  // second copy of the range's chunks builds up; no head lock is held during the I/O.
  bopts.sorted_series = true;
  block::BlockWriter bw(fs_, parent, bopts);
  const block::Tombstones stones = head_->TombstonesSnapshot();
  absl::Status err;
  bool any = false;
  head_->ForEachSeriesSorted(
      [&](model::SeriesRef ref, const model::Labels& lset, std::span<const HeadChunkView> chunks) {
        if (!err.ok()) return;
        // As Prometheus's compactHead reads a RangeHead [mint, maxt - 1]: chunks overlapping the
        // range; samples outside it are trimmed like deleted ones, and the head's tombstones
        // apply. The head cuts chunks at range boundaries, so normally every chunk lies wholly
        // in the block and, without tombstones, is copied verbatim.
        std::vector<block::EncodedChunk> out;
        bool trim_front = false, trim_back = false;
        for (const HeadChunkView& c : chunks) {
          if (c.maxt < mint || c.mint >= maxt) continue;
          if (c.mint < mint) trim_front = true;
          if (c.maxt >= maxt) trim_back = true;
          block::EncodedChunk ec;
          ec.min_time = c.mint;
          ec.max_time = c.maxt;
          ec.data = std::string(c.bytes);
          auto n = CountSamples(c.bytes);
          if (!n.ok()) {
            err = base::Annotate(n.status(), absl::StrCat("head chunk of ", lset.ToString()));
            return;
          }
          ec.num_samples = *n;
          out.push_back(std::move(ec));
        }
        if (out.empty()) return;
        block::Intervals deleted = stones.Get(ref);
        if (trim_front) block::AddInterval(&deleted, {kMinTime, mint - 1});
        if (trim_back) block::AddInterval(&deleted, {maxt, kMaxTime});
        auto kept = block::ApplyDeletions(std::move(out), deleted, xopts);
        if (!kept.ok()) {
          err = base::Annotate(kept.status(), absl::StrCat("head series ", lset.ToString()));
          return;
        }
        if (kept->empty()) return;
        err = bw.AddChunks(lset, *std::move(kept));
        any = true;
      });
  STRATA_RETURN_IF_ERROR(err);
  if (!any) return std::optional<block::BlockMeta>();
  STRATA_ASSIGN_OR_RETURN(block::BlockMeta m, bw.Flush());
  return std::optional<block::BlockMeta>(std::move(m));
}

absl::Status DB::DeleteBlockDir(const block::Block& b) {
  const std::string tmp = b.dir() + ".tmp-for-deletion";
  STRATA_RETURN_IF_ERROR(fs_.Rename(b.dir(), tmp));
  return fs_.RemoveAll(tmp);
}

absl::Status DB::Delete(int64_t mint, int64_t maxt, const std::vector<model::Matcher>& matchers) {
  base::MutexLock c(&cmtx_);
  STRATA_RETURN_IF_ERROR(CheckWritable());
  std::vector<std::shared_ptr<block::Block>> blocks = BlocksSnapshot();
  absl::Status err;
  for (auto& b : blocks) {
    // Block ranges are half-open [min_time, max_time), the deleted range is closed
    // (Prometheus's Block.OverlapsClosedInterval).
    if (b->meta().min_time > maxt || b->meta().max_time <= mint) continue;
    auto nb = b->Delete(fs_, mint, maxt, matchers);
    if (!nb.ok()) {
      err = base::Annotate(nb.status(), absl::StrCat("tsdb delete: block ", b->dir()));
      break;
    }
    if (*nb != b) Log(absl::StrCat("delete: tombstones written in ", b->dir()));
    b = *std::move(nb);  // queriers holding the old Block keep their view
  }
  SetBlocks(std::move(blocks));  // blocks handled before an error keep their tombstones
  STRATA_RETURN_IF_ERROR(err);
  if (head_->MinTime() <= maxt && mint <= head_->MaxTime()) {
    STRATA_RETURN_IF_ERROR(head_->Delete(mint, maxt, matchers));
  }
  return absl::OkStatus();
}

absl::Status DB::CleanTombstones() {
  base::MutexLock c(&cmtx_);
  STRATA_RETURN_IF_ERROR(CheckWritable());
  for (;;) {
    std::vector<std::shared_ptr<block::Block>> blocks = BlocksSnapshot();
    auto it = std::find_if(blocks.begin(), blocks.end(),
                           [](const auto& b) { return !b->tombstones().empty(); });
    if (it == blocks.end()) return absl::OkStatus();
    const std::shared_ptr<block::Block> old = *it;
    auto written = RewriteWithoutTombstones(fs_, old, dir_);
    if (!written.ok()) {
      return base::Annotate(written.status(),
                            absl::StrCat("tsdb clean tombstones: block ", old->dir()));
    }
    std::shared_ptr<block::Block> nb;
    if (written->has_value()) {
      const std::string path = base::JoinPath(dir_, (*written)->ulid.ToString());
      auto opened = block::Block::Open(fs_, path);
      if (!opened.ok()) {
        return base::Annotate(opened.status(), absl::StrCat("tsdb clean tombstones: ", path));
      }
      nb = *std::move(opened);
    }
    // The new block is durable (renamed into place, meta.json naming its parent) before
    // the old one goes.
    blocks.erase(it);
    if (nb != nullptr) blocks.push_back(nb);
    SetBlocks(std::move(blocks));
    STRATA_RETURN_IF_ERROR(DeleteBlockDir(*old));
    if (nb != nullptr) {
      Log(absl::StrCat("clean tombstones: rewrote ", old->dir(), " as ", nb->dir()));
    } else {
      Log(absl::StrCat("clean tombstones: deleted ", old->dir(), " (no samples left)"));
    }
  }
}

absl::Status DB::Snapshot(const std::string& dir, bool with_head) {
  if (dir == dir_) {
    return absl::InvalidArgumentError(
        absl::StrCat("tsdb snapshot: cannot snapshot into the base directory ", dir));
  }
  if (block::Ulid::Parse(dir).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tsdb snapshot: dir ", dir, " must not be a valid ULID"));
  }
  base::MutexLock c(&cmtx_);
  if (closed_) return absl::FailedPreconditionError(absl::StrCat("tsdb ", dir_, ": closed"));
  STRATA_RETURN_IF_ERROR(fs_.CreateDirs(dir));
  for (const auto& b : BlocksSnapshot()) {
    absl::Status s = SnapshotBlock(fs_, *b, dir);
    if (!s.ok()) return base::Annotate(s, absl::StrCat("tsdb snapshot: block ", b->dir()));
  }
  if (!with_head) return absl::OkStatus();
  const int64_t mint = head_->MinTime();
  const int64_t maxt = head_->MaxTime();
  if (maxt < mint) return absl::OkStatus();  // empty head: Prometheus writes no block either
  // Block ranges are half-open, so the block ends one past the newest sample.
  auto written = WriteHeadBlockLocked(dir, mint, maxt + 1);
  if (!written.ok()) return base::Annotate(written.status(), "tsdb snapshot: head block");
  if (written->has_value()) {
    Log(absl::StrCat("snapshot: head written as ", dir, "/", (*written)->ulid.ToString()));
  }
  return absl::OkStatus();
}

absl::Status DB::ApplySizeRetentionLocked() {
  std::vector<std::shared_ptr<block::Block>> by_age = BlocksSnapshot();
  if (opts_.retention_bytes <= 0 || by_age.empty() || wal_ == nullptr) {
    return absl::OkStatus();
  }
  // Prometheus 2.42's BeyondSizeRetention starts from Head.Size() (the WAL directory plus
  // the memory-mapped head chunks; strata has no head chunk files) and adds blocks newest
  // first (by max time); once the sum exceeds the limit, that block and all older ones go.
  STRATA_ASSIGN_OR_RETURN(uint64_t total, DirSize(fs_, wal_->dir()));
  std::stable_sort(by_age.begin(), by_age.end(), [](const auto& a, const auto& b) {
    return a->meta().max_time > b->meta().max_time;
  });
  const uint64_t limit = static_cast<uint64_t>(opts_.retention_bytes);
  for (size_t i = 0; i < by_age.size(); ++i) {
    STRATA_ASSIGN_OR_RETURN(uint64_t n, BlockBytes(fs_, *by_age[i]));
    total += n;
    if (total > limit) {
      by_age.erase(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(i));
      return DropBlocksLocked(by_age, "size retention");
    }
  }
  return absl::OkStatus();
}

}  // namespace strata::tsdb
