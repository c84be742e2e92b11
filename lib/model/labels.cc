#include "strata/model/labels.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "base/coding.h"
#include "strata/base/status.h"
#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include "xxhash.h"

namespace strata::model {
namespace {

// Reads one uvarint-prefixed string at *p. Packed buffers are produced by this file or
// checked by FromPacked, so lengths are trusted here.
std::string_view ReadStr(const char** p) {
  uint64_t n = 0;
  const auto* u = reinterpret_cast<const uint8_t*>(*p);
  const int k = base::DecodeUvarint(u, u + 10, &n);
  std::string_view s(*p + k, n);
  *p += k + n;
  return s;
}

void Append(std::string* dst, std::string_view name, std::string_view value) {
  base::PutUvarintStr(dst, name);
  base::PutUvarintStr(dst, value);
}

// Per-thread scratch where label sets are assembled before Adopt copies them into their
// exact-size shared buffer: one allocation per label set, none for the scratch.
std::string& Scratch() {
  thread_local std::string s;
  s.clear();
  return s;
}

}  // namespace

Labels Labels::Adopt(std::string_view packed) {
  Labels out;
  if (packed.empty()) return out;
  assert(packed.size() <= UINT32_MAX);
  void* mem = ::operator new(sizeof(Rep) + packed.size());
  Rep* rep = new (mem) Rep;
  rep->refs.store(1, std::memory_order_relaxed);
  rep->size = static_cast<uint32_t>(packed.size());
  std::memcpy(static_cast<void*>(rep + 1), packed.data(), packed.size());
  out.rep_ = rep;
  return out;
}

void Labels::Free(Rep* rep) noexcept {
  rep->~Rep();
  ::operator delete(rep);
}

void Labels::const_iterator::Load() {
  at_ = next_;
  if (next_ == end_) return;
  const char* p = next_;
  cur_.name = ReadStr(&p);
  cur_.value = ReadStr(&p);
  next_ = p;
}

Labels::Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs)
    : Labels(FromPairs(std::vector<std::pair<std::string_view, std::string_view>>(pairs))) {}

Labels Labels::FromPairs(std::vector<std::pair<std::string_view, std::string_view>> pairs) {
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string& buf = Scratch();
  for (size_t i = 0; i < pairs.size(); ++i) {
    // Last one wins for repeated names.
    if (i + 1 < pairs.size() && pairs[i + 1].first == pairs[i].first) continue;
    if (pairs[i].second.empty()) continue;
    Append(&buf, pairs[i].first, pairs[i].second);
  }
  return Adopt(buf);
}

Labels Labels::FromSorted(const std::vector<Label>& sorted) {
  std::string& buf = Scratch();
  for (size_t i = 0; i < sorted.size(); ++i) {
    assert(i == 0 || sorted[i - 1].name < sorted[i].name);
    Append(&buf, sorted[i].name, sorted[i].value);
  }
  return Adopt(buf);
}

absl::Status Labels::FromPacked(std::string_view packed, Labels* out) {
  base::Decoder d(packed);
  std::string_view prev;
  bool first = true;
  while (d.remaining() > 0) {
    const size_t at = d.offset();
    std::string_view n = d.UvarintStr();
    (void)d.UvarintStr();
    if (!d.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("packed labels: ", d.err(), " at offset ", at));
    }
    if (!first && n <= prev) {
      return absl::InvalidArgumentError(
          absl::StrCat("packed labels: names not sorted or repeated at offset ", at));
    }
    prev = n;
    first = false;
  }
  *out = Adopt(packed);
  return absl::OkStatus();
}

size_t Labels::size() const {
  size_t n = 0;
  for (auto it = begin(); it != end(); ++it) ++n;
  return n;
}

size_t Labels::text_bytes() const {
  size_t n = 0;
  for (const Label& l : *this) n += l.name.size() + l.value.size();
  return n;
}

std::string_view Labels::Get(std::string_view name) const {
  for (const Label& l : *this) {
    if (l.name == name) return l.value;
    if (l.name > name) break;
  }
  return {};
}

bool Labels::Has(std::string_view name) const {
  for (const Label& l : *this) {
    if (l.name == name) return true;
    if (l.name > name) break;
  }
  return false;
}

// Without/Keep return *this itself (a shared copy) when nothing is removed, which is the
// common case in PromQL (dropping a name that is absent).
Labels Labels::Without(std::initializer_list<std::string_view> names) const {
  std::string& buf = Scratch();
  bool removed = false;
  for (const Label& l : *this) {
    if (std::find(names.begin(), names.end(), l.name) != names.end()) {
      removed = true;
      continue;
    }
    Append(&buf, l.name, l.value);
  }
  return removed ? Adopt(buf) : *this;
}

Labels Labels::Without(const std::vector<std::string>& names) const {
  std::string& buf = Scratch();
  bool removed = false;
  for (const Label& l : *this) {
    if (std::find(names.begin(), names.end(), l.name) != names.end()) {
      removed = true;
      continue;
    }
    Append(&buf, l.name, l.value);
  }
  return removed ? Adopt(buf) : *this;
}

Labels Labels::Keep(const std::vector<std::string>& names) const {
  std::string& buf = Scratch();
  bool removed = false;
  for (const Label& l : *this) {
    if (std::find(names.begin(), names.end(), l.name) == names.end()) {
      removed = true;
      continue;
    }
    Append(&buf, l.name, l.value);
  }
  return removed ? Adopt(buf) : *this;
}

uint64_t Labels::Hash() const {
  const std::string_view b = packed();
  return XXH3_64bits(b.data(), b.size());
}

uint64_t Labels::HashFor(const std::vector<std::string>& sorted_names, bool without) const {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  auto j = sorted_names.begin();
  for (const Label& l : *this) {
    while (j != sorted_names.end() && *j < l.name) ++j;
    const bool listed = j != sorted_names.end() && *j == l.name;
    if (listed == without) continue;
    static constexpr char kSep = '\xff';
    XXH3_64bits_update(&st, l.name.data(), l.name.size());
    XXH3_64bits_update(&st, &kSep, 1);
    XXH3_64bits_update(&st, l.value.data(), l.value.size());
    XXH3_64bits_update(&st, &kSep, 1);
  }
  return XXH3_64bits_digest(&st);
}

std::string Labels::ToString() const {
  std::string out = "{";
  bool first = true;
  for (const Label& l : *this) {
    if (!first) out += ", ";
    first = false;
    out.append(l.name);
    out += '=';
    out += QuoteGo(l.value);
  }
  out += '}';
  return out;
}

int Compare(const Labels& a, const Labels& b) {
  auto i = a.begin(), j = b.begin();
  const auto ie = a.end(), je = b.end();
  for (; i != ie && j != je; ++i, ++j) {
    if (int c = i->name.compare(j->name); c != 0) return c < 0 ? -1 : 1;
    if (int c = i->value.compare(j->value); c != 0) return c < 0 ? -1 : 1;
  }
  if (i == ie && j == je) return 0;
  return i == ie ? -1 : 1;
}

void LabelsBuilder::Reset(const Labels& base) {
  pairs_.clear();
  for (const Label& l : base) pairs_.emplace_back(std::string(l.name), std::string(l.value));
}

LabelsBuilder& LabelsBuilder::Set(std::string_view name, std::string_view value) {
  if (value.empty()) return Del(name);
  auto it = std::lower_bound(pairs_.begin(), pairs_.end(), name,
                             [](const auto& p, std::string_view n) { return p.first < n; });
  if (it != pairs_.end() && it->first == name) {
    it->second.assign(value);
  } else {
    pairs_.emplace(it, std::string(name), std::string(value));
  }
  return *this;
}

LabelsBuilder& LabelsBuilder::Del(std::string_view name) {
  auto it = std::lower_bound(pairs_.begin(), pairs_.end(), name,
                             [](const auto& p, std::string_view n) { return p.first < n; });
  if (it != pairs_.end() && it->first == name) pairs_.erase(it);
  return *this;
}

std::string_view LabelsBuilder::Get(std::string_view name) const {
  auto it = std::lower_bound(pairs_.begin(), pairs_.end(), name,
                             [](const auto& p, std::string_view n) { return p.first < n; });
  if (it != pairs_.end() && it->first == name) return it->second;
  return {};
}

Labels LabelsBuilder::Build() const {
  std::string& buf = Scratch();
  for (const auto& [n, v] : pairs_) Append(&buf, n, v);
  return Labels::Adopt(buf);
}

bool IsLegacyMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsLegacyLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto* e = p + s.size();
  while (p < e) {
    const uint8_t c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (e - p <= n) return false;
    for (int k = 1; k <= n; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[k] & 0x3F);
    }
    // Reject overlong forms, surrogates and code points beyond U+10FFFF, as Go's utf8.Valid.
    static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

absl::Status ValidateLabels(const Labels& lset, NameValidation scheme) {
  if (lset.empty()) return absl::InvalidArgumentError("invalid labels: empty label set");
  const std::string_view metric = lset.MetricName();
  if (metric.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid labels ", lset.ToString(), ": missing metric name (__name__)"));
  }
  const bool legacy = scheme == NameValidation::kLegacy;
  if (legacy ? !IsLegacyMetricName(metric) : !IsValidUtf8(metric)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid labels ", lset.ToString(),
                                                   ": invalid metric name ", QuoteGo(metric)));
  }
  std::string_view prev;
  bool first = true;
  for (const Label& l : lset) {
    if (legacy ? !IsLegacyLabelName(l.name) : (l.name.empty() || !IsValidUtf8(l.name))) {
      return absl::InvalidArgumentError(absl::StrCat("invalid labels ", lset.ToString(),
                                                     ": invalid label name ", QuoteGo(l.name)));
    }
    if (!IsValidUtf8(l.value)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid labels ", lset.ToString(),
                                                     ": label ", base::ToAbsl(l.name),
                                                     " has a value that is not valid UTF-8"));
    }
    if (!first && l.name == prev) {
      return absl::InvalidArgumentError(absl::StrCat("invalid labels ", lset.ToString(),
                                                     ": duplicate label name ",
                                                     base::ToAbsl(l.name)));
    }
    prev = l.name;
    first = false;
  }
  return absl::OkStatus();
}

std::string QuoteGo(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto* e = p + s.size();
  while (p < e) {
    const uint8_t c = *p;
    if (c >= 0x80) {
      // Copy a valid UTF-8 sequence as is; escape each invalid byte as \xNN like Go.
      int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      if (n > 0 && e - p >= n &&
          IsValidUtf8(std::string_view(reinterpret_cast<const char*>(p), n))) {
        out.append(reinterpret_cast<const char*>(p), n);
        p += n;
      } else {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
        ++p;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++p;
  }
  out += '"';
  return out;
}

}  // namespace strata::model
