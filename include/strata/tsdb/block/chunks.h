// strata::tsdb::block chunk segment files: `<block>/chunks/000001`, `000002`, ...
// (Prometheus tsdb/chunks/chunks.go; ../shared/formats/tsdb-format.md section 4).
//
//   +-----------------------------+-------------+----------------+
//   | magic 0x85BD40DD (4, BE)    | version 1 (1) | zeros (3)    |   header, 8 bytes
//   +-----------------------------+-------------+----------------+
//   | uvarint len(data) | encoding (1) | data | crc32c(encoding + data) (4) |   per chunk
//   +--------------------------------------------------------------------+
//
// A chunk reference is (0-based position of the file << 32) | offset of the chunk's len
// field. A chunk never spans files; a file holds at most `segment_size` bytes (512 MiB).
//
// Thread-safety: ChunkWriter is single-owner. ChunkReader is immutable after Open() and safe
// for concurrent use; the views it returns borrow its mappings and live as long as it does.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/chunkenc/xor.h"

namespace strata::tsdb::block {

inline constexpr uint32_t kChunksMagic = 0x85BD40DD;
inline constexpr uint8_t kChunksFormatV1 = 1;
inline constexpr uint64_t kChunksHeaderSize = 8;
inline constexpr uint64_t kDefaultSegmentSize = 512ull << 20;

// One encoded chunk: its encoding and data (the bytes after the encoding byte in a file).
struct ChunkData {
  chunkenc::Encoding encoding = chunkenc::Encoding::kXor;
  std::string_view data;
};

// Segment file name for a 0-based position: 0 -> "000001".
std::string SegmentFileName(uint32_t index);

class ChunkWriter {
 public:
  // Creates directory `dir` (and parents) for writing segments into. Files are written
  // sequentially (no preallocation), synced and closed by Close(). Returns the file system's
  // error; InvalidArgument if segment_size is smaller than a header plus one small chunk.
  static absl::StatusOr<std::unique_ptr<ChunkWriter>> Create(
      base::FileSystem& fs, std::string dir, uint64_t segment_size = kDefaultSegmentSize);
  ~ChunkWriter();
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;

  // Writes the chunks of one series, in order, and stores each one's reference in *refs
  // (resized to chunks.size()). As Prometheus, a batch that would not fit in the current
  // file starts a new one (when the current file holds any chunk). Returns the write error;
  // ResourceExhausted if one chunk alone exceeds the segment size.
  absl::Status WriteChunks(std::span<const ChunkData> chunks, std::vector<uint64_t>* refs);

  // Syncs and closes the current file. Returns the first error. A second call returns
  // FailedPrecondition.
  absl::Status Close();

 private:
  struct Impl;
  explicit ChunkWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class ChunkReader {
 public:
  // Maps every segment file of directory `dir` (names of six digits, in order; the first must
  // be 000001 and they must be consecutive). Returns the file system's error or DataLoss
  // naming the file for a bad header or a gap in the numbering.
  static absl::StatusOr<std::unique_ptr<ChunkReader>> Open(base::FileSystem& fs,
                                                           const std::string& dir);
  // A reader over in-memory segments (borrowed; they must outlive the reader). `names` are
  // used in error messages. For tests and fuzzing.
  static absl::StatusOr<std::unique_ptr<ChunkReader>> FromBytes(
      std::vector<std::string_view> segments, std::vector<std::string> names);
  ~ChunkReader();
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  // The chunk at `ref`, after checking its CRC. DataLoss naming the file and offset if the
  // reference points outside the files or the chunk is truncated or fails its CRC.
  absl::StatusOr<ChunkData> Chunk(uint64_t ref) const;

  // Total bytes of all segment files.
  uint64_t size() const;
  size_t num_segments() const;

 private:
  struct Impl;
  explicit ChunkReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::tsdb::block
