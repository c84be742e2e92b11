// strata::index index file reader: Prometheus's block index, format versions 1 and 2 (the
// layout is drawn in strata/index/index_writer.h; ../shared/formats/tsdb-format.md
// section 3).
//
// Open() maps the file and checks, before returning, the magic, the version, the TOC CRC,
// and the CRCs of the symbol table, the label offset table and the postings offset table;
// it then keeps the symbols and the whole postings offset table in memory (views into the
// mapping). Series entries and postings lists are checked against their own CRC when read.
// Every corrupt or truncated structure yields DataLoss "index <path>: <section>: <what> at
// offset N"; no input makes the reader read outside the file.
//
// Series refs are what the postings lists hold: offset / 16 in version 2, the byte offset in
// version 1. Symbol refs in series entries are sequence numbers in v2, byte offsets in v1.
//
// Thread-safety: immutable after Open(); all methods are safe to call concurrently.
// Views and postings returned borrow the reader and are valid while it lives.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/index/index_writer.h"
#include "strata/index/postings.h"
#include "strata/index/postings_for_matchers.h"
#include "strata/model/labels.h"

namespace strata::index {

class IndexReader final : public PostingsReader {
 public:
  // Maps and validates the index file `path`. Returns the file system's error (NotFound,
  // ...) or DataLoss naming the path and offset.
  static absl::StatusOr<std::unique_ptr<IndexReader>> Open(base::FileSystem& fs,
                                                           const std::string& path);
  // Reads an index held in memory. `data` is borrowed and must outlive the reader; `name`
  // stands for the path in error messages.
  static absl::StatusOr<std::unique_ptr<IndexReader>> FromBytes(std::string_view data,
                                                                std::string name);
  ~IndexReader() override;
  IndexReader(const IndexReader&) = delete;
  IndexReader& operator=(const IndexReader&) = delete;

  // 1 or 2.
  int version() const;
  // Size of the file in bytes.
  uint64_t size() const;
  const std::string& path() const;

  // All symbols in file order (sorted).
  const std::vector<std::string_view>& Symbols() const;
  // The symbol with reference `ref` (a sequence number in v2, a byte offset in v1). DataLoss
  // if there is none.
  absl::StatusOr<std::string_view> LookupSymbol(uint32_t ref) const;

  // The series refs carrying name=value (("", "") for all series); an empty list if the pair
  // is absent. DataLoss if the list is corrupt (length or CRC).
  absl::StatusOr<std::unique_ptr<Postings>> PostingsFor(std::string_view name,
                                                        std::string_view value) const;

  // PostingsReader, for PostingsForMatchers().
  absl::StatusOr<std::unique_ptr<Postings>> AllPostings() const override;
  absl::StatusOr<std::unique_ptr<Postings>> PostingsForValues(
      std::string_view name, std::span<const std::string> values) const override;
  absl::StatusOr<std::unique_ptr<Postings>> PostingsMatching(
      std::string_view name, std::string_view prefix,
      const std::function<bool(std::string_view)>& match) const override;

  // Sorted values of label `name` (empty if the name is absent).
  std::vector<std::string> LabelValues(std::string_view name) const;
  // Sorted label names (without the all-postings key's empty name).
  std::vector<std::string> LabelNames() const;

  // Reads the series `ref`: its labels and its chunk metas (ascending by time). DataLoss,
  // naming the offset, if the entry is out of bounds, fails its CRC, or is malformed
  // (unknown symbols, unsorted or duplicate names, empty values).
  absl::Status Series(model::SeriesRef ref, model::Labels* lset,
                      std::vector<ChunkMeta>* chunks) const;

 private:
  struct Impl;
  explicit IndexReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::index
