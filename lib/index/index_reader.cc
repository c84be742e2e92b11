#include "strata/index/index_reader.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "fmt/format.h"
#include "strata/base/status.h"
#include "base/coding.h"
#include "base/crc32c.h"
#include "base/status_macros.h"

namespace strata::index {
namespace {

constexpr uint64_t kHeaderLen = 5;
constexpr uint64_t kTocLen = 6 * 8 + 4;

// A postings list stored in the file: n big-endian uint32 refs, borrowed from the mapping.
// Seek binary-searches forward from the current position.
class BigEndianPostings final : public Postings {
 public:
  BigEndianPostings(const uint8_t* refs, uint32_t n) : refs_(refs), n_(n) {}

  bool Next() override {
    if (pos_ + 1 >= static_cast<int64_t>(n_)) {
      pos_ = n_;
      return false;
    }
    ++pos_;
    cur_ = base::LoadBE32(refs_ + 4 * pos_);
    return true;
  }
  bool Seek(SeriesRef v) override {
    if (pos_ >= static_cast<int64_t>(n_)) return false;
    if (pos_ >= 0 && cur_ >= v) return true;
    int64_t lo = pos_ < 0 ? 0 : pos_;
    int64_t hi = n_;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (base::LoadBE32(refs_ + 4 * mid) < v) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    pos_ = lo;
    if (pos_ >= static_cast<int64_t>(n_)) return false;
    cur_ = base::LoadBE32(refs_ + 4 * pos_);
    return true;
  }
  SeriesRef At() const override { return cur_; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  const uint8_t* refs_;
  uint32_t n_;
  int64_t pos_ = -1;
  SeriesRef cur_ = 0;
};

}  // namespace

struct IndexReader::Impl {
  std::string path;
  std::unique_ptr<base::MappedFile> mapped;  // null when reading borrowed bytes
  std::string_view data;
  int version = 0;
  uint64_t toc[6] = {};  // symbols, series, label indices, label offsets, postings, postings offsets

  std::vector<std::string_view> symbols;
  absl::flat_hash_map<uint32_t, uint32_t> v1_symbol_index;  // v1: byte offset -> position
  // name -> (value, offset of the list's len field), values sorted.
  std::map<std::string_view, std::vector<std::pair<std::string_view, uint64_t>>> postings;

  absl::Status Corrupt(std::string_view section, std::string_view what, uint64_t off) const {
    return absl::DataLossError(
        fmt::format("index {}: {}: {} at offset {}", path, section, what, off));
  }

  // Reads a `len(4) | body | crc32c(body)` section at `off`; returns the body.
  absl::StatusOr<std::string_view> Section(std::string_view name, uint64_t off) const {
    if (off > data.size() || data.size() - off < 4) {
      return Corrupt(name, "section starts beyond the end of the file", off);
    }
    const uint64_t len = base::LoadBE32(data.data() + off);
    if (data.size() - off - 4 < len + 4) {
      return Corrupt(name, fmt::format("length {} runs past the end of the file", len), off);
    }
    std::string_view body = data.substr(off + 4, len);
    const uint32_t want = base::LoadBE32(data.data() + off + 4 + len);
    if (base::Crc32c(body) != want) return Corrupt(name, "crc mismatch", off);
    return body;
  }

  absl::Status Parse() {
    if (data.size() < kHeaderLen + kTocLen) {
      return Corrupt("header", fmt::format("file too short ({} bytes)", data.size()), 0);
    }
    if (base::LoadBE32(data.data()) != kIndexMagic) {
      return Corrupt("header", "bad magic number", 0);
    }
    version = static_cast<uint8_t>(data[4]);
    if (version != kIndexFormatV1 && version != kIndexFormatV2) {
      return Corrupt("header", fmt::format("unsupported format version {}", version), 4);
    }
    const uint64_t toc_off = data.size() - kTocLen;
    const char* t = data.data() + toc_off;
    if (base::Crc32c(t, 48) != base::LoadBE32(t + 48)) {
      return Corrupt("TOC", "crc mismatch", toc_off);
    }
    for (int i = 0; i < 6; ++i) {
      toc[i] = base::LoadBE64(t + 8 * i);
      if (toc[i] > toc_off) return Corrupt("TOC", "section offset beyond the TOC", toc_off + 8 * i);
    }
    STRATA_RETURN_IF_ERROR(ParseSymbols());
    if (toc[3] != 0) {
      // The legacy label offset table: only checked, since the postings offset table
      // answers every label-values question for both versions.
      STRATA_ASSIGN_OR_RETURN(std::string_view body, Section("label offset table", toc[3]));
      (void)body;
    }
    return ParsePostingsTable();
  }

  absl::Status ParseSymbols() {
    if (toc[0] == 0) return absl::OkStatus();
    STRATA_ASSIGN_OR_RETURN(std::string_view body, Section("symbol table", toc[0]));
    base::Decoder d(body);
    const uint32_t count = d.BE32();
    if (!d.ok()) return Corrupt("symbol table", "truncated count", toc[0] + 4);
    // Each symbol takes at least one byte, which bounds the reservation for corrupt counts.
    symbols.reserve(std::min<uint64_t>(count, body.size()));
    std::string_view prev;
    for (uint32_t i = 0; i < count; ++i) {
      const uint64_t at = toc[0] + 4 + d.offset();
      std::string_view s = d.UvarintStr();
      if (!d.ok()) return Corrupt("symbol table", fmt::format("symbol {}: {}", i, d.err()), at);
      if (i > 0 && s <= prev) return Corrupt("symbol table", "symbols not sorted", at);
      if (version == kIndexFormatV1) v1_symbol_index[static_cast<uint32_t>(at)] = i;
      symbols.push_back(s);
      prev = s;
    }
    return absl::OkStatus();
  }

  absl::Status ParsePostingsTable() {
    if (toc[5] == 0) return absl::OkStatus();
    constexpr std::string_view kName = "postings offset table";
    STRATA_ASSIGN_OR_RETURN(std::string_view body, Section(kName, toc[5]));
    base::Decoder d(body);
    const uint32_t count = d.BE32();
    for (uint32_t i = 0; i < count && d.ok(); ++i) {
      const uint64_t at = toc[5] + 4 + d.offset();
      const uint64_t keys = d.Uvarint();
      if (d.ok() && keys != 2) {
        return Corrupt(kName, fmt::format("entry {} has {} keys, want 2", i, keys), at);
      }
      std::string_view name = d.UvarintStr();
      std::string_view value = d.UvarintStr();
      const uint64_t off = d.Uvarint();
      if (!d.ok()) break;
      postings[name].emplace_back(value, off);
    }
    if (!d.ok()) return Corrupt(kName, d.err(), toc[5] + 4 + d.offset());
    for (auto& [name, values] : postings) {
      std::sort(values.begin(), values.end());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Postings>> ReadList(uint64_t off) const {
    constexpr std::string_view kName = "postings list";
    STRATA_ASSIGN_OR_RETURN(std::string_view body, Section(kName, off));
    if (body.size() < 4) return Corrupt(kName, "list shorter than its count", off);
    const uint32_t n = base::LoadBE32(body.data());
    if (body.size() != 4 + 4 * static_cast<uint64_t>(n)) {
      return Corrupt(kName, fmt::format("length {} does not hold {} refs", body.size(), n),
                     off);
    }
    return std::unique_ptr<Postings>(std::make_unique<BigEndianPostings>(
        reinterpret_cast<const uint8_t*>(body.data()) + 4, n));
  }

  const std::vector<std::pair<std::string_view, uint64_t>>* Values(std::string_view name) const {
    auto it = postings.find(name);
    return it == postings.end() ? nullptr : &it->second;
  }
};

IndexReader::IndexReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IndexReader::~IndexReader() = default;

absl::StatusOr<std::unique_ptr<IndexReader>> IndexReader::Open(base::FileSystem& fs,
                                                               const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  STRATA_ASSIGN_OR_RETURN(impl->mapped, fs.MapReadOnly(path));
  impl->data = impl->mapped->data();
  STRATA_RETURN_IF_ERROR(impl->Parse());
  return std::unique_ptr<IndexReader>(new IndexReader(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<IndexReader>> IndexReader::FromBytes(std::string_view data,
                                                                    std::string name) {
  auto impl = std::make_unique<Impl>();
  impl->path = std::move(name);
  impl->data = data;
  STRATA_RETURN_IF_ERROR(impl->Parse());
  return std::unique_ptr<IndexReader>(new IndexReader(std::move(impl)));
}

int IndexReader::version() const { return impl_->version; }
uint64_t IndexReader::size() const { return impl_->data.size(); }
const std::string& IndexReader::path() const { return impl_->path; }
const std::vector<std::string_view>& IndexReader::Symbols() const { return impl_->symbols; }

absl::StatusOr<std::string_view> IndexReader::LookupSymbol(uint32_t ref) const {
  if (impl_->version == kIndexFormatV1) {
    auto it = impl_->v1_symbol_index.find(ref);
    if (it == impl_->v1_symbol_index.end()) {
      return impl_->Corrupt("symbol table", fmt::format("unknown symbol offset {}", ref), ref);
    }
    return impl_->symbols[it->second];
  }
  if (ref >= impl_->symbols.size()) {
    return absl::DataLossError(fmt::format("index {}: unknown symbol {} ({} symbols)", impl_->path, ref, impl_->symbols.size()));
  }
  return impl_->symbols[ref];
}

absl::StatusOr<std::unique_ptr<Postings>> IndexReader::PostingsFor(std::string_view name,
                                                                   std::string_view value) const {
  const auto* values = impl_->Values(name);
  if (values == nullptr) return EmptyPostings();
  auto it = std::lower_bound(values->begin(), values->end(),
                             std::pair<std::string_view, uint64_t>(value, 0));
  if (it == values->end() || it->first != value) return EmptyPostings();
  return impl_->ReadList(it->second);
}

absl::StatusOr<std::unique_ptr<Postings>> IndexReader::AllPostings() const {
  return PostingsFor("", "");
}

absl::StatusOr<std::unique_ptr<Postings>> IndexReader::PostingsForValues(
    std::string_view name, std::span<const std::string> values) const {
  std::vector<std::unique_ptr<Postings>> its;
  for (const auto& v : values) {
    STRATA_ASSIGN_OR_RETURN(auto p, PostingsFor(name, v));
    if (!IsEmptyPostings(*p)) its.push_back(std::move(p));
  }
  if (its.empty()) return EmptyPostings();
  if (its.size() == 1) return std::move(its[0]);
  return Merge(std::move(its));
}

absl::StatusOr<std::unique_ptr<Postings>> IndexReader::PostingsMatching(
    std::string_view name, std::string_view prefix,
    const std::function<bool(std::string_view)>& match) const {
  const auto* values = impl_->Values(name);
  if (values == nullptr) return EmptyPostings();
  std::vector<std::unique_ptr<Postings>> its;
  for (auto it = std::lower_bound(values->begin(), values->end(),
                                  std::pair<std::string_view, uint64_t>(prefix, 0));
       it != values->end() && it->first.substr(0, prefix.size()) == prefix; ++it) {
    if (!match(it->first)) continue;
    STRATA_ASSIGN_OR_RETURN(auto p, impl_->ReadList(it->second));
    its.push_back(std::move(p));
  }
  if (its.empty()) return EmptyPostings();
  if (its.size() == 1) return std::move(its[0]);
  return Merge(std::move(its));
}

std::vector<std::string> IndexReader::LabelValues(std::string_view name) const {
  std::vector<std::string> out;
  if (name.empty()) return out;
  const auto* values = impl_->Values(name);
  if (values == nullptr) return out;
  out.reserve(values->size());
  for (const auto& v : *values) {
    if (out.empty() || out.back() != v.first) out.emplace_back(v.first);
  }
  return out;
}

std::vector<std::string> IndexReader::LabelNames() const {
  std::vector<std::string> out;
  for (const auto& [name, values] : impl_->postings) {
    if (!name.empty()) out.emplace_back(name);
  }
  return out;
}

absl::Status IndexReader::Series(model::SeriesRef ref, model::Labels* lset,
                                 std::vector<ChunkMeta>* chunks) const {
  const Impl& r = *impl_;
  constexpr std::string_view kName = "series";
  const uint64_t off = r.version == kIndexFormatV2 ? ref * 16 : ref;
  if (ref > (uint64_t{1} << 40) || off >= r.data.size()) {
    return r.Corrupt(kName, fmt::format("series ref {} out of range", ref), off);
  }
  base::Decoder d(r.data.substr(off));
  const uint64_t len = d.Uvarint();
  const size_t body_start = d.offset();
  if (!d.ok() || d.remaining() < 4 || len > d.remaining() - 4) {
    return r.Corrupt(kName, fmt::format("entry of series {} truncated", ref), off);
  }
  std::string_view body = d.Bytes(len);
  const uint32_t want = d.BE32();
  if (base::Crc32c(body) != want) {
    return r.Corrupt(kName, fmt::format("crc mismatch in series {}", ref), off);
  }
  base::Decoder b(body);
  const uint64_t nlabels = b.Uvarint();
  if (nlabels > body.size()) return r.Corrupt(kName, "implausible label count", off + body_start);
  std::vector<model::Label> labels;
  labels.reserve(nlabels);
  for (uint64_t i = 0; i < nlabels && b.ok(); ++i) {
    const uint64_t n = b.Uvarint();
    const uint64_t v = b.Uvarint();
    if (!b.ok()) break;
    if (n > UINT32_MAX || v > UINT32_MAX) {
      return r.Corrupt(kName, "symbol reference exceeds 32 bits", off + body_start + b.offset());
    }
    auto name = LookupSymbol(static_cast<uint32_t>(n));
    auto value = LookupSymbol(static_cast<uint32_t>(v));
    if (!name.ok()) return r.Corrupt(kName, base::ToStd(name.status().message()), off + body_start + b.offset());
    if (!value.ok()) {
      return r.Corrupt(kName, base::ToStd(value.status().message()), off + body_start + b.offset());
    }
    if (name->empty() || value->empty() || (!labels.empty() && *name <= labels.back().name)) {
      return r.Corrupt(kName,
                       fmt::format("series {}: empty, unsorted or duplicate label", ref),
                       off + body_start + b.offset());
    }
    labels.push_back({*name, *value});
  }
  const uint64_t nchunks = b.Uvarint();
  if (!b.ok()) return r.Corrupt(kName, b.err(), off + body_start + b.offset());
  if (nchunks > body.size()) return r.Corrupt(kName, "implausible chunk count", off + body_start);
  chunks->clear();
  chunks->reserve(nchunks);
  for (uint64_t i = 0; i < nchunks && b.ok(); ++i) {
    ChunkMeta c;
    if (i == 0) {
      c.min_time = b.Varint();
      c.max_time = static_cast<int64_t>(static_cast<uint64_t>(c.min_time) + b.Uvarint());
      c.ref = b.Uvarint();
    } else {
      const ChunkMeta& p = chunks->back();
      c.min_time = static_cast<int64_t>(static_cast<uint64_t>(p.max_time) + b.Uvarint());
      c.max_time = static_cast<int64_t>(static_cast<uint64_t>(c.min_time) + b.Uvarint());
      c.ref = p.ref + static_cast<uint64_t>(b.Varint());
    }
    chunks->push_back(c);
  }
  if (!b.ok()) return r.Corrupt(kName, b.err(), off + body_start + b.offset());
  if (b.remaining() != 0) {
    return r.Corrupt(kName, fmt::format("series {}: trailing bytes in entry", ref), off);
  }
  *lset = model::Labels::FromSorted(labels);
  return absl::OkStatus();
}

}  // namespace strata::index
