#include "strata/tsdb/record/record.h"

#include <bit>

#include "absl/strings/str_cat.h"
#include "base/coding.h"
#include "strata/base/status.h"

namespace strata::tsdb::record {
namespace {

constexpr std::string_view kUnitField = "UNIT";
constexpr std::string_view kHelpField = "HELP";

void PutLabels(std::string* out, const model::Labels& lset) {
  // A Labels value is packed exactly as the WAL spells a label set after its count:
  // (uvarint len, bytes) for each name and value, sorted by name.
  base::PutUvarint(out, lset.size());
  out->append(lset.packed());
}

absl::Status Malformed(Type t, const base::Decoder& d, std::string_view detail) {
  return absl::DataLossError(absl::StrCat(base::ToAbsl(TypeName(t)), " record: ",
                                          base::ToAbsl(detail), " at offset ", d.offset()));
}

// Checks the type byte. Returns InvalidArgument if `rec` is not a `want` record.
absl::Status ReadType(base::Decoder& d, Type want) {
  const uint8_t b = d.Byte();
  if (!d.ok() || static_cast<Type>(b) != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ", base::ToAbsl(TypeName(want)), " record: type byte ", b));
  }
  return absl::OkStatus();
}

// Reads a label set (uvarint count + pairs) into `*lset`.
absl::Status ReadLabels(base::Decoder& d, Type t, model::Labels* lset) {
  const uint64_t n = d.Uvarint();
  const size_t start = d.offset();
  const uint8_t* begin = d.pos();
  // Each pair takes at least two bytes, so a bogus count ends at the end of the data.
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    (void)d.UvarintStr();
    (void)d.UvarintStr();
  }
  if (!d.ok()) return Malformed(t, d, d.err());
  const std::string_view packed(reinterpret_cast<const char*>(begin), d.offset() - start);
  absl::Status s = model::Labels::FromPacked(packed, lset);
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat(base::ToAbsl(TypeName(t)),
                                            " record: label set at offset ", start, ": ",
                                            s.message()));
  }
  return absl::OkStatus();
}

absl::Status Finish(const base::Decoder& d, Type t) {
  if (!d.ok()) return Malformed(t, d, d.err());
  return absl::OkStatus();
}

void PutSpans(std::string* out, const std::vector<Span>& spans) {
  base::PutUvarint(out, spans.size());
  for (const Span& sp : spans) {
    base::PutVarint(out, sp.offset);
    base::PutUvarint(out, sp.length);
  }
}

// Reads a span list. Each span takes at least two bytes, so a bogus count stops at the end
// of the data instead of allocating.
void ReadSpans(base::Decoder& d, std::vector<Span>* spans) {
  const uint64_t n = d.Uvarint();
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    Span sp;
    sp.offset = static_cast<int32_t>(d.Varint());
    sp.length = static_cast<uint32_t>(d.Uvarint());
    if (d.ok()) spans->push_back(sp);
  }
}

// Shared by the integer and float histogram records: put_count/read_count handle zero_count
// and count, put_bucket/read_bucket one bucket, each in that record's number format.
template <typename H, typename PutCount, typename PutBucket>
void PutHistogram(std::string* out, const H& h, PutCount put_count, PutBucket put_bucket) {
  out->push_back(static_cast<char>(h.counter_reset_hint));
  base::PutVarint(out, h.schema);
  base::PutBE64(out, std::bit_cast<uint64_t>(h.zero_threshold));
  put_count(h.zero_count);
  put_count(h.count);
  base::PutBE64(out, std::bit_cast<uint64_t>(h.sum));
  PutSpans(out, h.positive_spans);
  PutSpans(out, h.negative_spans);
  base::PutUvarint(out, h.positive_buckets.size());
  for (const auto& b : h.positive_buckets) put_bucket(b);
  base::PutUvarint(out, h.negative_buckets.size());
  for (const auto& b : h.negative_buckets) put_bucket(b);
}

template <typename H, typename ReadCount, typename ReadBucket>
void ReadHistogram(base::Decoder& d, H* h, ReadCount read_count, ReadBucket read_bucket) {
  h->counter_reset_hint = d.Byte();
  h->schema = static_cast<int32_t>(d.Varint());
  h->zero_threshold = std::bit_cast<double>(d.BE64());
  h->zero_count = read_count();
  h->count = read_count();
  h->sum = std::bit_cast<double>(d.BE64());
  ReadSpans(d, &h->positive_spans);
  ReadSpans(d, &h->negative_spans);
  for (auto* buckets : {&h->positive_buckets, &h->negative_buckets}) {
    const uint64_t n = d.Uvarint();
    for (uint64_t i = 0; i < n && d.ok(); ++i) {
      const auto b = read_bucket();
      if (d.ok()) buckets->push_back(b);
    }
  }
}

template <typename Entry, typename PutH>
void EncodeHistogramRecord(Type type, std::span<const Entry> entries, std::string* out,
                           PutH put_h) {
  out->push_back(static_cast<char>(type));
  if (entries.empty()) return;
  const Entry& first = entries.front();
  base::PutBE64(out, first.ref);
  base::PutBE64(out, static_cast<uint64_t>(first.t));
  for (const Entry& e : entries) {
    base::PutVarint(out, static_cast<int64_t>(e.ref - first.ref));
    base::PutVarint(out, static_cast<int64_t>(static_cast<uint64_t>(e.t) -
                                              static_cast<uint64_t>(first.t)));
    put_h(e);
  }
}

template <typename Entry, typename ReadH>
absl::Status DecodeHistogramRecord(Type type, std::string_view rec, std::vector<Entry>* out,
                                   ReadH read_h) {
  base::Decoder d(rec);
  absl::Status s = ReadType(d, type);
  if (!s.ok()) return s;
  if (d.remaining() == 0) return absl::OkStatus();
  const uint64_t base_ref = d.BE64();
  const uint64_t base_t = d.BE64();
  while (d.remaining() > 0 && d.ok()) {
    Entry e;
    const int64_t dref = d.Varint();
    const int64_t dt = d.Varint();
    e.ref = base_ref + static_cast<uint64_t>(dref);
    e.t = static_cast<int64_t>(base_t + static_cast<uint64_t>(dt));
    read_h(d, &e);
    if (!d.ok()) break;
    out->push_back(std::move(e));
  }
  return Finish(d, type);
}

}  // namespace

Type GetType(std::string_view rec) {
  if (rec.empty()) return Type::kUnknown;
  const auto b = static_cast<uint8_t>(rec[0]);
  if (b >= 1 && b <= 8) return static_cast<Type>(b);
  return Type::kUnknown;
}

std::string_view TypeName(Type t) {
  switch (t) {
    case Type::kSeries: return "series";
    case Type::kSamples: return "samples";
    case Type::kTombstones: return "tombstones";
    case Type::kExemplars: return "exemplars";
    case Type::kMmapMarkers: return "mmapmarkers";
    case Type::kMetadata: return "metadata";
    case Type::kHistogramSamples: return "histogram_samples";
    case Type::kFloatHistogramSamples: return "float_histogram_samples";
    case Type::kUnknown: break;
  }
  return "unknown";
}

void EncodeSeries(std::span<const RefSeries> series, std::string* out) {
  out->push_back(static_cast<char>(Type::kSeries));
  for (const RefSeries& s : series) {
    base::PutBE64(out, s.ref);
    PutLabels(out, s.labels);
  }
}

size_t EncodeSamplesTo(std::span<const RefSample> samples, char* buf) {
  auto* p = reinterpret_cast<uint8_t*>(buf);
  *p++ = static_cast<uint8_t>(Type::kSamples);
  if (samples.empty()) return 1;
  const RefSample& first = samples.front();
  // Written through a pointer into space sized for the worst case (two 10-byte varints and
  // 8 value bytes per sample): this runs once per sample of every commit.
  base::StoreBE64(p, first.ref);
  base::StoreBE64(p + 8, static_cast<uint64_t>(first.t));
  p += 16;
  for (const RefSample& s : samples) {
    // Deltas in two's complement, as Go's int64(s.Ref) - int64(first.Ref).
    p += base::EncodeUvarint(p, base::ZigZagEncode(static_cast<int64_t>(s.ref - first.ref)));
    p += base::EncodeUvarint(p, base::ZigZagEncode(static_cast<int64_t>(
                                    static_cast<uint64_t>(s.t) - static_cast<uint64_t>(first.t))));
    base::StoreBE64(p, std::bit_cast<uint64_t>(s.v));
    p += 8;
  }
  return static_cast<size_t>(reinterpret_cast<char*>(p) - buf);
}

void EncodeSamples(std::span<const RefSample> samples, std::string* out) {
  const size_t at = out->size();
  out->resize(at + MaxSamplesRecordSize(samples.size()));
  out->resize(at + EncodeSamplesTo(samples, out->data() + at));
}

void EncodeTombstones(std::span<const RefTombstone> tombstones, std::string* out) {
  out->push_back(static_cast<char>(Type::kTombstones));
  for (const RefTombstone& s : tombstones) {
    base::PutBE64(out, s.ref);
    base::PutVarint(out, s.mint);
    base::PutVarint(out, s.maxt);
  }
}

void EncodeExemplars(std::span<const RefExemplar> exemplars, std::string* out) {
  out->push_back(static_cast<char>(Type::kExemplars));
  if (exemplars.empty()) return;
  const RefExemplar& first = exemplars.front();
  base::PutBE64(out, first.ref);
  base::PutBE64(out, static_cast<uint64_t>(first.t));
  for (const RefExemplar& e : exemplars) {
    base::PutVarint(out, static_cast<int64_t>(e.ref - first.ref));
    base::PutVarint(out, static_cast<int64_t>(static_cast<uint64_t>(e.t) -
                                              static_cast<uint64_t>(first.t)));
    base::PutBE64(out, std::bit_cast<uint64_t>(e.v));
    PutLabels(out, e.labels);
  }
}

void EncodeMetadata(std::span<const RefMetadata> metadata, std::string* out) {
  out->push_back(static_cast<char>(Type::kMetadata));
  for (const RefMetadata& m : metadata) {
    base::PutUvarint(out, m.ref);
    out->push_back(static_cast<char>(m.type));
    base::PutUvarint(out, 2);  // two fields, UNIT then HELP, as Prometheus writes them
    base::PutUvarintStr(out, kUnitField);
    base::PutUvarintStr(out, m.unit);
    base::PutUvarintStr(out, kHelpField);
    base::PutUvarintStr(out, m.help);
  }
}

absl::Status DecodeSeries(std::string_view rec, std::vector<RefSeries>* out) {
  base::Decoder d(rec);
  absl::Status s = ReadType(d, Type::kSeries);
  if (!s.ok()) return s;
  while (d.remaining() > 0) {
    RefSeries rs;
    rs.ref = d.BE64();
    if (!d.ok()) return Malformed(Type::kSeries, d, d.err());
    s = ReadLabels(d, Type::kSeries, &rs.labels);
    if (!s.ok()) return s;
    out->push_back(std::move(rs));
  }
  return Finish(d, Type::kSeries);
}

absl::Status DecodeSamples(std::string_view rec, std::vector<RefSample>* out) {
  base::Decoder d(rec);
  absl::Status s = ReadType(d, Type::kSamples);
  if (!s.ok()) return s;
  if (d.remaining() == 0) return absl::OkStatus();
  const uint64_t base_ref = d.BE64();
  const uint64_t base_t = d.BE64();
  // Every sample takes at least 10 bytes (two 1-byte varints and the value).
  out->reserve(out->size() + d.remaining() / 10);
  while (d.remaining() > 0 && d.ok()) {
    const int64_t dref = d.Varint();
    const int64_t dt = d.Varint();
    const uint64_t bits = d.BE64();
    if (!d.ok()) break;
    out->push_back(RefSample{base_ref + static_cast<uint64_t>(dref),
                             static_cast<int64_t>(base_t + static_cast<uint64_t>(dt)),
                             std::bit_cast<double>(bits)});
  }
  return Finish(d, Type::kSamples);
}

absl::Status DecodeTombstones(std::string_view rec, std::vector<RefTombstone>* out) {
  base::Decoder d(rec);
  absl::Status s = ReadType(d, Type::kTombstones);
  if (!s.ok()) return s;
  while (d.remaining() > 0 && d.ok()) {
    RefTombstone t;
    t.ref = d.BE64();
    t.mint = d.Varint();
    t.maxt = d.Varint();
    if (!d.ok()) break;
    out->push_back(t);
  }
  return Finish(d, Type::kTombstones);
}

absl::Status DecodeExemplars(std::string_view rec, std::vector<RefExemplar>* out) {
  base::Decoder d(rec);
  absl::Status s = ReadType(d, Type::kExemplars);
  if (!s.ok()) return s;
  if (d.remaining() == 0) return absl::OkStatus();
  const uint64_t base_ref = d.BE64();
  const uint64_t base_t = d.BE64();
  while (d.remaining() > 0 && d.ok()) {
    RefExemplar e;
    const int64_t dref = d.Varint();
    const int64_t dt = d.Varint();
    const uint64_t bits = d.BE64();
    if (!d.ok()) break;
    e.ref = base_ref + static_cast<uint64_t>(dref);
    e.t = static_cast<int64_t>(base_t + static_cast<uint64_t>(dt));
    e.v = std::bit_cast<double>(bits);
    s = ReadLabels(d, Type::kExemplars, &e.labels);
    if (!s.ok()) return s;
    out->push_back(std::move(e));
  }
  return Finish(d, Type::kExemplars);
}

absl::Status DecodeMetadata(std::string_view rec, std::vector<RefMetadata>* out) {
  base::Decoder d(rec);
  absl::Status s = ReadType(d, Type::kMetadata);
  if (!s.ok()) return s;
  while (d.remaining() > 0 && d.ok()) {
    RefMetadata m;
    m.ref = d.Uvarint();
    m.type = d.Byte();
    const uint64_t fields = d.Uvarint();
    // Each field takes at least two bytes, so a bogus count stops at the end of the data.
    for (uint64_t i = 0; i < fields && d.ok(); ++i) {
      const std::string_view name = d.UvarintStr();
      const std::string_view value = d.UvarintStr();
      if (name == kUnitField) {
        m.unit = std::string(value);
      } else if (name == kHelpField) {
        m.help = std::string(value);
      }
    }
    if (!d.ok()) break;
    out->push_back(std::move(m));
  }
  return Finish(d, Type::kMetadata);
}

}  // namespace strata::tsdb::record

namespace strata::tsdb::record {

void EncodeHistogramSamples(std::span<const RefHistogramSample> histograms, std::string* out) {
  EncodeHistogramRecord(Type::kHistogramSamples, histograms, out,
                        [out](const RefHistogramSample& e) {
                          PutHistogram(
                              out, e.h, [out](uint64_t c) { base::PutUvarint(out, c); },
                              [out](int64_t b) { base::PutVarint(out, b); });
                        });
}

void EncodeFloatHistogramSamples(std::span<const RefFloatHistogramSample> histograms,
                                 std::string* out) {
  auto put_float = [out](double v) { base::PutBE64(out, std::bit_cast<uint64_t>(v)); };
  EncodeHistogramRecord(Type::kFloatHistogramSamples, histograms, out,
                        [&](const RefFloatHistogramSample& e) {
                          PutHistogram(out, e.fh, put_float, put_float);
                        });
}

absl::Status DecodeHistogramSamples(std::string_view rec, std::vector<RefHistogramSample>* out) {
  return DecodeHistogramRecord(
      Type::kHistogramSamples, rec, out, [](base::Decoder& d, RefHistogramSample* e) {
        ReadHistogram(
            d, &e->h, [&d] { return d.Uvarint(); }, [&d] { return d.Varint(); });
      });
}

absl::Status DecodeFloatHistogramSamples(std::string_view rec,
                                         std::vector<RefFloatHistogramSample>* out) {
  return DecodeHistogramRecord(
      Type::kFloatHistogramSamples, rec, out,
      [](base::Decoder& d, RefFloatHistogramSample* e) {
        auto read_float = [&d] { return std::bit_cast<double>(d.BE64()); };
        ReadHistogram(d, &e->fh, read_float, read_float);
      });
}

}  // namespace strata::tsdb::record
