#include "strata/index/index_writer.h"

#include <limits>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "fmt/format.h"
#include "strata/base/status.h"
#include "base/coding.h"
#include "base/crc32c.h"
#include "base/status_macros.h"

namespace strata::index {
namespace {

// Flush the write buffer to the file once it holds this much.
constexpr size_t kFlushBytes = 1 << 20;

}  // namespace

struct IndexWriter::Impl {
  enum class Stage { kSymbols, kSeries, kDone };

  std::string path;
  std::unique_ptr<base::WritableFile> file;
  std::string buf;     // bytes not yet handed to the file
  uint64_t pos = 0;    // file offset of the end of buf
  Stage stage = Stage::kSymbols;

  std::vector<std::string> symbols;
  absl::flat_hash_map<std::string, uint32_t> symbol_refs;

  model::Labels last_series;
  bool have_series = false;
  // name -> value -> refs; std::map because label indices and postings are written in
  // byte order of names and values.
  std::map<std::string, std::map<std::string, std::vector<uint32_t>>> postings;
  std::vector<uint32_t> all_postings;

  uint64_t toc_symbols = 0, toc_series = 0, toc_label_indices = 0, toc_label_offsets = 0,
           toc_postings = 0, toc_postings_offsets = 0;

  absl::Status Write(std::string_view b) {
    buf.append(b);
    pos += b.size();
    if (buf.size() >= kFlushBytes) return Flush();
    return absl::OkStatus();
  }
  absl::Status Flush() {
    if (buf.empty()) return absl::OkStatus();
    absl::Status s = file->Append(buf);
    buf.clear();
    return s;
  }
  absl::Status Pad(uint64_t align) {
    const uint64_t rem = pos % align;
    if (rem == 0) return absl::OkStatus();
    return Write(std::string(align - rem, '\0'));
  }
  // Writes len(4) | body | crc32c(body), the framing shared by the symbol table, label
  // indices, postings lists and offset tables.
  absl::Status WriteLenCrc(std::string_view body) {
    std::string out;
    out.reserve(body.size() + 8);
    base::PutBE32(&out, static_cast<uint32_t>(body.size()));
    out.append(body);
    base::PutBE32(&out, base::Crc32c(body));
    return Write(out);
  }

  absl::Status FinishSymbols() {
    toc_symbols = pos;
    std::string body;
    base::PutBE32(&body, static_cast<uint32_t>(symbols.size()));
    for (const auto& s : symbols) base::PutUvarintStr(&body, s);
    if (body.size() > std::numeric_limits<uint32_t>::max()) {
      return absl::ResourceExhaustedError(
          fmt::format("index {}: symbol table exceeds 4 GiB", path));
    }
    STRATA_RETURN_IF_ERROR(WriteLenCrc(body));
    toc_series = pos;
    stage = Stage::kSeries;
    return absl::OkStatus();
  }
};

IndexWriter::IndexWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IndexWriter::~IndexWriter() = default;

absl::StatusOr<std::unique_ptr<IndexWriter>> IndexWriter::Create(base::FileSystem& fs,
                                                                 std::string path) {
  auto impl = std::make_unique<Impl>();
  STRATA_ASSIGN_OR_RETURN(impl->file, fs.OpenWritable(path));
  impl->path = std::move(path);
  std::string header;
  base::PutBE32(&header, kIndexMagic);
  header.push_back(static_cast<char>(kIndexFormatV2));
  STRATA_RETURN_IF_ERROR(impl->Write(header));
  return std::unique_ptr<IndexWriter>(new IndexWriter(std::move(impl)));
}

absl::Status IndexWriter::AddSymbol(std::string_view sym) {
  Impl& w = *impl_;
  if (w.stage != Impl::Stage::kSymbols) {
    return absl::FailedPreconditionError(
        fmt::format("index {}: symbol \"{}\" added after the first series", w.path, sym));
  }
  if (!w.symbols.empty() && sym <= w.symbols.back()) {
    return absl::InvalidArgumentError(fmt::format("index {}: symbol \"{}\" is not after \"{}\" (symbols must be sorted and unique)", w.path, sym, w.symbols.back()));
  }
  w.symbol_refs.emplace(std::string(sym), static_cast<uint32_t>(w.symbols.size()));
  w.symbols.emplace_back(sym);
  return absl::OkStatus();
}

absl::StatusOr<model::SeriesRef> IndexWriter::AddSeries(const model::Labels& lset,
                                                        std::span<const ChunkMeta> chunks) {
  Impl& w = *impl_;
  if (w.stage == Impl::Stage::kDone) {
    return absl::FailedPreconditionError(fmt::format("index {}: writer is closed", w.path));
  }
  if (w.stage == Impl::Stage::kSymbols) STRATA_RETURN_IF_ERROR(w.FinishSymbols());
  if (w.have_series && Compare(lset, w.last_series) <= 0) {
    return absl::InvalidArgumentError(fmt::format("index {}: series {} is not after {}", w.path, lset.ToString(), w.last_series.ToString()));
  }

  // Body: #labels, symbol refs, #chunks, delta-encoded chunk metas.
  std::string body;
  base::PutUvarint(&body, lset.size());
  std::vector<std::pair<const std::string*, const std::string*>> pairs;
  for (const auto& l : lset) {
    auto n = w.symbol_refs.find(base::ToAbsl(l.name));
    auto v = w.symbol_refs.find(base::ToAbsl(l.value));
    if (n == w.symbol_refs.end() || v == w.symbol_refs.end()) {
      return absl::InvalidArgumentError(
          fmt::format("index {}: series {} uses symbol \"{}\" that was not added", w.path, lset.ToString(), n == w.symbol_refs.end() ? l.name : l.value));
    }
    base::PutUvarint(&body, n->second);
    base::PutUvarint(&body, v->second);
    pairs.emplace_back(&n->first, &v->first);
  }
  base::PutUvarint(&body, chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ChunkMeta& c = chunks[i];
    // Differences in 64-bit two's complement, stored as uvarints where Prometheus does.
    if (i == 0) {
      base::PutVarint(&body, c.min_time);
      base::PutUvarint(&body, static_cast<uint64_t>(c.max_time) - static_cast<uint64_t>(c.min_time));
      base::PutUvarint(&body, c.ref);
    } else {
      const ChunkMeta& p = chunks[i - 1];
      base::PutUvarint(&body, static_cast<uint64_t>(c.min_time) - static_cast<uint64_t>(p.max_time));
      base::PutUvarint(&body, static_cast<uint64_t>(c.max_time) - static_cast<uint64_t>(c.min_time));
      base::PutVarint(&body, static_cast<int64_t>(c.ref - p.ref));
    }
  }

  STRATA_RETURN_IF_ERROR(w.Pad(16));
  const uint64_t ref = w.pos / 16;
  if (ref > std::numeric_limits<uint32_t>::max()) {
    return absl::ResourceExhaustedError(fmt::format("index {}: series section exceeds the 64 GiB addressable by 32-bit refs", w.path));
  }
  std::string entry;
  base::PutUvarint(&entry, body.size());
  entry.append(body);
  base::PutBE32(&entry, base::Crc32c(body));
  STRATA_RETURN_IF_ERROR(w.Write(entry));

  for (const auto& [name, value] : pairs) {
    w.postings[*name][*value].push_back(static_cast<uint32_t>(ref));
  }
  w.all_postings.push_back(static_cast<uint32_t>(ref));
  w.last_series = lset;
  w.have_series = true;
  return ref;
}

absl::Status IndexWriter::Close() {
  Impl& w = *impl_;
  if (w.stage == Impl::Stage::kDone) {
    return absl::FailedPreconditionError(fmt::format("index {}: already closed", w.path));
  }
  if (w.stage == Impl::Stage::kSymbols) STRATA_RETURN_IF_ERROR(w.FinishSymbols());
  w.stage = Impl::Stage::kDone;

  // Label indices (legacy, but Prometheus 2.42 still writes them): one per name.
  w.toc_label_indices = w.pos;
  std::vector<std::pair<std::string_view, uint64_t>> label_index_offsets;
  for (const auto& [name, values] : w.postings) {
    STRATA_RETURN_IF_ERROR(w.Pad(4));
    label_index_offsets.emplace_back(name, w.pos);
    std::string body;
    base::PutBE32(&body, 1);
    base::PutBE32(&body, static_cast<uint32_t>(values.size()));
    for (const auto& v : values) base::PutBE32(&body, w.symbol_refs.find(v.first)->second);
    STRATA_RETURN_IF_ERROR(w.WriteLenCrc(body));
  }

  // Postings: the all-postings list under ("", ""), then every pair in order.
  w.toc_postings = w.pos;
  std::vector<std::tuple<std::string_view, std::string_view, uint64_t>> postings_offsets;
  auto write_list = [&](std::string_view name, std::string_view value,
                        const std::vector<uint32_t>& refs) -> absl::Status {
    STRATA_RETURN_IF_ERROR(w.Pad(4));
    postings_offsets.emplace_back(name, value, w.pos);
    std::string body;
    body.reserve(4 + 4 * refs.size());
    base::PutBE32(&body, static_cast<uint32_t>(refs.size()));
    for (uint32_t r : refs) base::PutBE32(&body, r);
    return w.WriteLenCrc(body);
  };
  STRATA_RETURN_IF_ERROR(write_list("", "", w.all_postings));
  for (const auto& [name, values] : w.postings) {
    for (const auto& [value, refs] : values) {
      STRATA_RETURN_IF_ERROR(write_list(name, value, refs));
    }
  }

  w.toc_label_offsets = w.pos;
  {
    std::string body;
    base::PutBE32(&body, static_cast<uint32_t>(label_index_offsets.size()));
    for (const auto& [name, off] : label_index_offsets) {
      base::PutUvarint(&body, 1);
      base::PutUvarintStr(&body, name);
      base::PutUvarint(&body, off);
    }
    STRATA_RETURN_IF_ERROR(w.WriteLenCrc(body));
  }

  w.toc_postings_offsets = w.pos;
  {
    std::string body;
    base::PutBE32(&body, static_cast<uint32_t>(postings_offsets.size()));
    for (const auto& [name, value, off] : postings_offsets) {
      base::PutUvarint(&body, 2);
      base::PutUvarintStr(&body, name);
      base::PutUvarintStr(&body, value);
      base::PutUvarint(&body, off);
    }
    STRATA_RETURN_IF_ERROR(w.WriteLenCrc(body));
  }

  std::string toc;
  for (uint64_t off : {w.toc_symbols, w.toc_series, w.toc_label_indices, w.toc_label_offsets,
                       w.toc_postings, w.toc_postings_offsets}) {
    base::PutBE64(&toc, off);
  }
  base::PutBE32(&toc, base::Crc32c(toc));
  STRATA_RETURN_IF_ERROR(w.Write(toc));
  STRATA_RETURN_IF_ERROR(w.Flush());
  STRATA_RETURN_IF_ERROR(w.file->Sync());
  return w.file->Close();
}

}  // namespace strata::index
