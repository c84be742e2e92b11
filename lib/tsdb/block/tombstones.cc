#include "strata/tsdb/block/tombstones.h"

#include <algorithm>
#include <limits>

#include "base/coding.h"
#include "base/crc32c.h"
#include "base/status_macros.h"
#include "fmt/format.h"
#include "strata/base/status.h"

namespace strata::tsdb::block {

void AddInterval(Intervals* in, Interval n) {
  // Find the run of intervals that overlap or touch n (mint-1 .. maxt+1), guarding the
  // +-1 against overflow at the int64 limits as Prometheus does.
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  size_t lo = 0;
  if (n.mint != kMin) {
    lo = std::partition_point(in->begin(), in->end(),
                              [&](const Interval& x) { return x.maxt < n.mint - 1; }) -
         in->begin();
  }
  size_t hi = in->size();
  if (n.maxt != kMax) {
    hi = std::partition_point(in->begin() + lo, in->end(),
                              [&](const Interval& x) { return x.mint <= n.maxt + 1; }) -
         in->begin();
  }
  if (lo == hi) {
    in->insert(in->begin() + lo, n);
    return;
  }
  Interval merged{std::min(n.mint, (*in)[lo].mint), std::max(n.maxt, (*in)[hi - 1].maxt)};
  in->erase(in->begin() + lo, in->begin() + hi);
  in->insert(in->begin() + lo, merged);
}

bool IsSubrange(const Intervals& in, int64_t mint, int64_t maxt) {
  for (const auto& iv : in) {
    if (iv.InBounds(mint) && iv.InBounds(maxt)) return true;
  }
  return false;
}

bool IsDeleted(const Intervals& in, int64_t t) {
  // The first interval ending at or after t is the only one that can hold it.
  auto it =
      std::partition_point(in.begin(), in.end(), [t](const Interval& x) { return x.maxt < t; });
  return it != in.end() && it->mint <= t;
}

bool Overlaps(const Intervals& in, int64_t mint, int64_t maxt) {
  auto it = std::partition_point(in.begin(), in.end(),
                                 [mint](const Interval& x) { return x.maxt < mint; });
  return it != in.end() && it->mint <= maxt;
}

void Tombstones::Add(model::SeriesRef ref, Interval iv) { AddInterval(&by_ref_[ref], iv); }

void Tombstones::Merge(const Tombstones& other) {
  for (const auto& [ref, ivs] : other.by_ref_) {
    for (const auto& iv : ivs) Add(ref, iv);
  }
}

void Tombstones::DeleteSeries(model::SeriesRef ref) { by_ref_.erase(ref); }

void Tombstones::TruncateBefore(int64_t t) {
  for (auto it = by_ref_.begin(); it != by_ref_.end();) {
    Intervals& ivs = it->second;
    // Sorted and disjoint, so the intervals ending before t form a prefix.
    auto keep =
        std::partition_point(ivs.begin(), ivs.end(), [t](const Interval& x) { return x.maxt < t; });
    ivs.erase(ivs.begin(), keep);
    if (ivs.empty()) {
      it = by_ref_.erase(it);
    } else {
      ++it;
    }
  }
}

const Intervals& Tombstones::Get(model::SeriesRef ref) const {
  static const Intervals* empty = new Intervals();
  auto it = by_ref_.find(ref);
  return it == by_ref_.end() ? *empty : it->second;
}

uint64_t Tombstones::NumIntervals() const {
  uint64_t n = 0;
  for (const auto& [ref, ivs] : by_ref_) n += ivs.size();
  return n;
}

std::string EncodeTombstones(const Tombstones& ts) {
  std::string out;
  base::PutBE32(&out, kTombstonesMagic);
  out.push_back(static_cast<char>(kTombstonesFormatV1));
  const size_t start = out.size();
  for (const auto& [ref, ivs] : ts.by_ref()) {
    for (const auto& iv : ivs) {
      base::PutUvarint(&out, ref);
      base::PutVarint(&out, iv.mint);
      base::PutVarint(&out, iv.maxt);
    }
  }
  base::PutBE32(&out, base::Crc32c(std::string_view(out).substr(start)));
  return out;
}

absl::StatusOr<Tombstones> DecodeTombstones(std::string_view data, std::string_view name) {
  auto corrupt = [&](std::string_view what, uint64_t off) {
    return absl::DataLossError(fmt::format("tombstones {}: {} at offset {}", name, what, off));
  };
  if (data.size() < 9) return corrupt(fmt::format("file too short ({} bytes)", data.size()), 0);
  if (base::LoadBE32(data.data()) != kTombstonesMagic) return corrupt("bad magic number", 0);
  if (static_cast<uint8_t>(data[4]) != kTombstonesFormatV1) {
    return corrupt(fmt::format("unsupported format version {}",
                               static_cast<int>(static_cast<uint8_t>(data[4]))),
                   4);
  }
  const std::string_view entries = data.substr(5, data.size() - 9);
  if (base::Crc32c(entries) != base::LoadBE32(data.data() + data.size() - 4)) {
    return corrupt("crc mismatch", data.size() - 4);
  }
  Tombstones ts;
  base::Decoder d(entries);
  while (d.remaining() > 0) {
    const uint64_t at = 5 + d.offset();
    const uint64_t ref = d.Uvarint();
    const int64_t mint = d.Varint();
    const int64_t maxt = d.Varint();
    if (!d.ok()) return corrupt(d.err(), at);
    ts.Add(ref, Interval{mint, maxt});
  }
  return ts;
}

absl::StatusOr<Tombstones> ReadTombstones(base::FileSystem& fs, const std::string& dir) {
  const std::string path = base::JoinPath(dir, kTombstonesFileName);
  auto data = fs.ReadFile(path);
  if (absl::IsNotFound(data.status())) return Tombstones();
  if (!data.ok()) return data.status();
  return DecodeTombstones(*data, path);
}

absl::Status WriteTombstones(base::FileSystem& fs, const std::string& dir, const Tombstones& ts) {
  return base::WriteFileAtomically(fs, base::JoinPath(dir, kTombstonesFileName),
                                   EncodeTombstones(ts));
}

absl::StatusOr<std::vector<EncodedChunk>> ApplyDeletions(std::vector<EncodedChunk> chunks,
                                                         const Intervals& deleted,
                                                         chunkenc::XorOptions opts) {
  if (deleted.empty()) return chunks;
  std::vector<EncodedChunk> out;
  out.reserve(chunks.size());
  for (EncodedChunk& c : chunks) {
    if (IsSubrange(deleted, c.min_time, c.max_time)) continue;
    if (!Overlaps(deleted, c.min_time, c.max_time)) {
      out.push_back(std::move(c));
      continue;
    }
    if (c.encoding != chunkenc::Encoding::kXor) {
      return absl::UnimplementedError(fmt::format(
          "tombstones: chunk [{}, {}] has encoding {}; only XOR chunks can be re-encoded",
          c.min_time, c.max_time, static_cast<int>(c.encoding)));
    }
    EncodedChunk n;
    n.encoding = chunkenc::Encoding::kXor;
    chunkenc::XorAppender app(&n.data, opts);
    chunkenc::XorIterator it(c.data);
    while (it.Next()) {
      const model::Sample s = it.At();
      if (IsDeleted(deleted, s.t)) continue;
      if (n.num_samples == 0) n.min_time = s.t;
      n.max_time = s.t;
      app.Append(s.t, s.v);
      ++n.num_samples;
    }
    if (!it.status().ok()) {
      return base::Annotate(it.status(), fmt::format("tombstones: re-encoding chunk [{}, {}]",
                                                     c.min_time, c.max_time));
    }
    if (n.num_samples > 0) out.push_back(std::move(n));
  }
  return out;
}

}  // namespace strata::tsdb::block
