#include "strata/tsdb/block/meta.h"

#include <chrono>
#include <mutex>
#include <random>

#include "base/json.h"
#include "base/status_macros.h"
#include "fmt/format.h"
#include "strata/base/status.h"

namespace strata::tsdb::block {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int CrockfordValue(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (int i = 0; i < 32; ++i) {
    if (kCrockford[i] == c) return i;
  }
  return -1;
}

using base::Json;

absl::Status Bad(std::string_view name, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", name, what));
}

// Reads an integer member; absent means 0 as in Go's decoder.
absl::Status GetInt(const Json& obj, std::string_view key, std::string_view name, int64_t* out) {
  const Json* v = obj.Find(key);
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  if (v->type() != Json::Type::kInt) {
    return Bad(name, fmt::format("field \"{}\" is not a 64-bit integer", key));
  }
  *out = v->int_value();
  return absl::OkStatus();
}
absl::Status GetUint(const Json& obj, std::string_view key, std::string_view name,
                     uint64_t* out) {
  const Json* v = obj.Find(key);
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  if (!v->is_integer() || (v->type() == Json::Type::kInt && v->int_value() < 0)) {
    return Bad(name, fmt::format("field \"{}\" is not an unsigned integer", key));
  }
  *out = v->uint_value();
  return absl::OkStatus();
}
absl::Status GetBool(const Json& obj, std::string_view key, std::string_view name, bool* out) {
  const Json* v = obj.Find(key);
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  if (!v->is_bool()) return Bad(name, fmt::format("field \"{}\" is not a boolean", key));
  *out = v->bool_value();
  return absl::OkStatus();
}
absl::Status GetUlid(const Json& obj, std::string_view key, std::string_view name, Ulid* out) {
  const Json* v = obj.Find(key);
  if (v == nullptr || !v->is_string()) {
    return Bad(name, fmt::format("field \"{}\" is missing or not a string", key));
  }
  auto u = Ulid::Parse(v->string_value());
  if (!u.ok()) {
    return Bad(name, fmt::format("field \"{}\": {}", key, base::ToStd(u.status().message())));
  }
  *out = *u;
  return absl::OkStatus();
}
// An array member (absent or null: no items).
absl::StatusOr<const std::vector<Json>*> GetArray(const Json& obj, std::string_view key,
                                                  std::string_view name) {
  static const std::vector<Json>* empty = new std::vector<Json>();
  const Json* v = obj.Find(key);
  if (v == nullptr || v->is_null()) return empty;
  if (!v->is_array()) return Bad(name, fmt::format("field \"{}\" is not an array", key));
  return &v->items();
}

}  // namespace

Ulid Ulid::FromParts(uint64_t unix_ms, const std::array<uint8_t, 10>& entropy) {
  Ulid u;
  for (int i = 0; i < 6; ++i) u.b_[i] = static_cast<uint8_t>(unix_ms >> (40 - 8 * i));
  for (int i = 0; i < 10; ++i) u.b_[6 + i] = entropy[i];
  return u;
}

absl::StatusOr<Ulid> Ulid::Parse(std::string_view s) {
  if (s.size() != 26) {
    return absl::InvalidArgumentError(
        fmt::format("ulid \"{}\": want 26 characters, have {}", s, s.size()));
  }
  unsigned __int128 v = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const int d = CrockfordValue(s[i]);
    if (d < 0) {
      return absl::InvalidArgumentError(
          fmt::format("ulid \"{}\": invalid character at position {}", s, i));
    }
    if (i == 0 && d > 7) {
      return absl::InvalidArgumentError(fmt::format("ulid \"{}\": overflows 128 bits", s));
    }
    v = (v << 5) | static_cast<unsigned>(d);
  }
  Ulid u;
  for (int i = 15; i >= 0; --i) {
    u.b_[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
  return u;
}

std::string Ulid::ToString() const {
  unsigned __int128 v = 0;
  for (uint8_t b : b_) v = (v << 8) | b;
  std::string s(26, '0');
  for (int i = 0; i < 26; ++i) {
    s[i] = kCrockford[static_cast<unsigned>(v >> (125 - 5 * i)) & 31];
  }
  return s;
}

uint64_t Ulid::time_ms() const {
  uint64_t t = 0;
  for (int i = 0; i < 6; ++i) t = (t << 8) | b_[i];
  return t;
}

Ulid NewUlid(uint64_t unix_ms) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::array<uint8_t, 10> e;
  {
    std::lock_guard<std::mutex> l(mu);
    const uint64_t a = rng(), b = rng();
    for (int i = 0; i < 8; ++i) e[i] = static_cast<uint8_t>(a >> (8 * i));
    e[8] = static_cast<uint8_t>(b);
    e[9] = static_cast<uint8_t>(b >> 8);
  }
  return Ulid::FromParts(unix_ms, e);
}

uint64_t NowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string EncodeMeta(const BlockMeta& meta) {
  Json root = Json::Object();
  root.Set("ulid", Json::String(meta.ulid.ToString()));
  root.Set("minTime", Json::Int(meta.min_time));
  root.Set("maxTime", Json::Int(meta.max_time));
  Json stats = Json::Object();
  // Every stats field is `omitempty` in Prometheus's BlockStats.
  if (meta.stats.num_samples != 0) stats.Set("numSamples", Json::Uint(meta.stats.num_samples));
  if (meta.stats.num_series != 0) stats.Set("numSeries", Json::Uint(meta.stats.num_series));
  if (meta.stats.num_chunks != 0) stats.Set("numChunks", Json::Uint(meta.stats.num_chunks));
  if (meta.stats.num_tombstones != 0) {
    stats.Set("numTombstones", Json::Uint(meta.stats.num_tombstones));
  }
  root.Set("stats", std::move(stats));
  const BlockMetaCompaction& c = meta.compaction;
  Json comp = Json::Object();
  comp.Set("level", Json::Int(c.level));
  if (!c.sources.empty()) {
    Json a = Json::Array();
    for (const auto& u : c.sources) a.Push(Json::String(u.ToString()));
    comp.Set("sources", std::move(a));
  }
  if (c.deletable) comp.Set("deletable", Json::Bool(true));
  if (!c.parents.empty()) {
    Json a = Json::Array();
    for (const auto& p : c.parents) {
      Json d = Json::Object();
      d.Set("ulid", Json::String(p.ulid.ToString()));
      d.Set("minTime", Json::Int(p.min_time));
      d.Set("maxTime", Json::Int(p.max_time));
      a.Push(std::move(d));
    }
    comp.Set("parents", std::move(a));
  }
  if (c.failed) comp.Set("failed", Json::Bool(true));
  if (!c.hints.empty()) {
    Json a = Json::Array();
    for (const auto& h : c.hints) a.Push(Json::String(h));
    comp.Set("hints", std::move(a));
  }
  root.Set("compaction", std::move(comp));
  root.Set("version", Json::Int(meta.version));
  if (!meta.thanos_json.empty()) {
    auto t = base::ParseJson(meta.thanos_json);
    // thanos_json comes from DecodeMeta or from the caller; invalid text is kept out rather
    // than producing a file no reader accepts.
    if (t.ok()) root.Set("thanos", *std::move(t));
  }
  return root.WriteIndented();
}

absl::StatusOr<BlockMeta> DecodeMeta(std::string_view text, std::string_view name) {
  auto parsed = base::ParseJson(text);
  if (!parsed.ok()) return Bad(name, base::ToStd(parsed.status().message()));
  const Json& root = *parsed;
  if (!root.is_object()) return Bad(name, "top level is not an object");
  BlockMeta m;
  int64_t version = 0;
  STRATA_RETURN_IF_ERROR(GetInt(root, "version", name, &version));
  if (version != kMetaVersion1) {
    return Bad(name, fmt::format("unexpected meta file version {}", version));
  }
  m.version = static_cast<int>(version);
  STRATA_RETURN_IF_ERROR(GetUlid(root, "ulid", name, &m.ulid));
  STRATA_RETURN_IF_ERROR(GetInt(root, "minTime", name, &m.min_time));
  STRATA_RETURN_IF_ERROR(GetInt(root, "maxTime", name, &m.max_time));
  if (const Json* s = root.Find("stats"); s != nullptr && !s->is_null()) {
    if (!s->is_object()) return Bad(name, "field \"stats\" is not an object");
    STRATA_RETURN_IF_ERROR(GetUint(*s, "numSamples", name, &m.stats.num_samples));
    STRATA_RETURN_IF_ERROR(GetUint(*s, "numSeries", name, &m.stats.num_series));
    STRATA_RETURN_IF_ERROR(GetUint(*s, "numChunks", name, &m.stats.num_chunks));
    STRATA_RETURN_IF_ERROR(GetUint(*s, "numTombstones", name, &m.stats.num_tombstones));
  }
  if (const Json* c = root.Find("compaction"); c != nullptr && !c->is_null()) {
    if (!c->is_object()) return Bad(name, "field \"compaction\" is not an object");
    int64_t level = 0;
    STRATA_RETURN_IF_ERROR(GetInt(*c, "level", name, &level));
    if (level < 0 || level > (1 << 30)) return Bad(name, "compaction level out of range");
    m.compaction.level = static_cast<int>(level);
    STRATA_ASSIGN_OR_RETURN(const std::vector<Json>* sources, GetArray(*c, "sources", name));
    for (const Json& s : *sources) {
      if (!s.is_string()) return Bad(name, "compaction source is not a string");
      auto u = Ulid::Parse(s.string_value());
      if (!u.ok()) return Bad(name, base::ToStd(u.status().message()));
      m.compaction.sources.push_back(*u);
    }
    STRATA_RETURN_IF_ERROR(GetBool(*c, "deletable", name, &m.compaction.deletable));
    STRATA_ASSIGN_OR_RETURN(const std::vector<Json>* parents, GetArray(*c, "parents", name));
    for (const Json& p : *parents) {
      if (!p.is_object()) return Bad(name, "compaction parent is not an object");
      BlockDesc d;
      STRATA_RETURN_IF_ERROR(GetUlid(p, "ulid", name, &d.ulid));
      STRATA_RETURN_IF_ERROR(GetInt(p, "minTime", name, &d.min_time));
      STRATA_RETURN_IF_ERROR(GetInt(p, "maxTime", name, &d.max_time));
      m.compaction.parents.push_back(d);
    }
    STRATA_RETURN_IF_ERROR(GetBool(*c, "failed", name, &m.compaction.failed));
    STRATA_ASSIGN_OR_RETURN(const std::vector<Json>* hints, GetArray(*c, "hints", name));
    for (const Json& h : *hints) {
      if (!h.is_string()) return Bad(name, "compaction hint is not a string");
      m.compaction.hints.push_back(h.string_value());
    }
  }
  if (const Json* t = root.Find("thanos"); t != nullptr && !t->is_null()) {
    m.thanos_json = t->Write();
  }
  return m;
}

absl::StatusOr<BlockMeta> ReadMeta(base::FileSystem& fs, const std::string& dir) {
  const std::string path = base::JoinPath(dir, "meta.json");
  STRATA_ASSIGN_OR_RETURN(std::string text, fs.ReadFile(path));
  auto m = DecodeMeta(text, path);
  if (!m.ok()) return absl::DataLossError(m.status().message());
  return m;
}

absl::Status WriteMeta(base::FileSystem& fs, const std::string& dir, const BlockMeta& meta) {
  return base::WriteFileAtomically(fs, base::JoinPath(dir, "meta.json"), EncodeMeta(meta));
}

}  // namespace strata::tsdb::block
