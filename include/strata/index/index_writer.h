// strata::index index file writer: Prometheus's block index, format version 2, written
// byte-identically to Prometheus 2.42 (tsdb/index/index.go; ../shared/formats/tsdb-format.md
// section 3).
//
//   +---------------------------+----------------+
//   | magic 0xBAAAD700 (4, BE)  | version 2 (1)  |
//   +---------------------------+----------------+
//   | symbol table       len(4) | count(4) | count x (uvarint len, bytes) | crc32c(4)
//   | series             each 16-byte aligned; ref = offset / 16:
//   |                    uvarint len | uvarint #labels | (uvarint name_sym, uvarint value_sym)*
//   |                    | uvarint #chunks | chunk metas (delta-encoded) | crc32c(4)
//   | label indices      each 4-byte aligned: len | 1 | #values | value_sym(4)* | crc32c
//   | postings           4-byte aligned: len | n | series_ref(4)* | crc32c; ("", "") first
//   | label offset table len | #entries | (uvarint 1, name, uvarint offset)* | crc32c
//   | postings offsets   len | #entries | (uvarint 2, name, value, uvarint offset)* | crc32c
//   | TOC                6 x offset (8, BE) | crc32c(4)
//   +---------------------------------------------+
//
// Use: AddSymbol() for every symbol in sorted order, then AddSeries() in label order, then
// Close(). Prometheus's head lists every series under the pair ("", ""), so its blocks carry
// the empty string as symbol 0; a caller that wants the same bytes adds "" first. Series
// labels must only use added symbols. Memory: the postings lists (4 bytes per label pair of
// every series) and the symbols are kept until Close(); series are streamed to the file.
//
// Thread-safety: not thread-safe; one owner drives a writer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"

namespace strata::index {

// Where a chunk lives and what time range it covers (closed [min_time, max_time]), as stored
// for every chunk of a series in the index.
struct ChunkMeta {
  uint64_t ref = 0;  // (segment file index << 32) | offset within that file
  int64_t min_time = 0;
  int64_t max_time = 0;
  friend bool operator==(const ChunkMeta&, const ChunkMeta&) = default;
};

inline constexpr uint32_t kIndexMagic = 0xBAAAD700;
inline constexpr uint8_t kIndexFormatV1 = 1;
inline constexpr uint8_t kIndexFormatV2 = 2;

class IndexWriter {
 public:
  // Creates (truncating) the index file `path`. Returns the file system's error.
  static absl::StatusOr<std::unique_ptr<IndexWriter>> Create(base::FileSystem& fs,
                                                             std::string path);
  ~IndexWriter();
  IndexWriter(const IndexWriter&) = delete;
  IndexWriter& operator=(const IndexWriter&) = delete;

  // Adds the next symbol. Returns InvalidArgument if it is not strictly greater than the
  // previous symbol, FailedPrecondition after the first AddSeries().
  absl::Status AddSymbol(std::string_view sym);

  // Adds the next series with its chunk metas (ascending by time). Returns the series ref
  // (file offset / 16). InvalidArgument if `lset` does not sort after the previous series or
  // uses a symbol that was not added; ResourceExhausted if the series section outgrows the
  // 32-bit series refs; the file system's error on write failure.
  absl::StatusOr<model::SeriesRef> AddSeries(const model::Labels& lset,
                                             std::span<const ChunkMeta> chunks);

  // Writes label indices, postings, the offset tables and the TOC, syncs and closes the
  // file. Returns the first write/sync error. Calling it twice returns FailedPrecondition.
  absl::Status Close();

 private:
  struct Impl;
  explicit IndexWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::index
