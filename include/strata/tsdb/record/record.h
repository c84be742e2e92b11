// strata::tsdb::record: the payloads of Prometheus WAL records (tsdb/record/record.go).
//
// A record is one byte of Type followed by a type-specific body. Layouts (fixed-width
// integers big-endian, `uvarint`/`varint` as Go's binary package, strings as uvarint length
// + bytes; ../shared/formats/tsdb-format.md section 7):
//
//   series (1)      repeated: ref(8) | uvarint #labels | (name, value) strings...
//   samples (2)     first_ref(8) | first_t(8) | per sample, the first included:
//                     varint(ref - first_ref) | varint(t - first_t) | value bits(8)
//                   (an empty sample list is the type byte alone)
//   tombstones (3)  repeated per interval: ref(8) | varint mint | varint maxt
//   exemplars (4)   as samples, each entry followed by uvarint #labels + strings
//   metadata (6)    repeated: uvarint ref | type(1) | uvarint #fields |
//                     (field name, value) strings: Prometheus writes 2, "UNIT" then "HELP";
//                     unknown fields are skipped on decode
//   histogram samples (7)  first_ref(8) | first_t(8) | per entry: varint dref | varint dt |
//                     counter_reset_hint(1) | varint schema | zero_threshold bits(8) |
//                     uvarint zero_count | uvarint count | sum bits(8) |
//                     uvarint #pos spans + (varint offset, uvarint length)... |
//                     the same for negative spans | uvarint #pos buckets + varint each |
//                     the same for negative buckets (bucket counts delta-encoded)
//   float histogram samples (8)  as 7, but zero_count, count and every bucket are
//                     float64 bits(8) (absolute bucket counts)
//
// Encoders append to a caller-owned std::string, so a caller can reuse its buffer and encode
// outside any lock. Decoders append to a caller-owned vector and return DataLoss naming the
// record type and the byte offset within the record on malformed input (truncation, bad
// varint, trailing bytes, unsorted labels). They never read out of bounds. Label sets and
// metadata strings are copied out of the record, so results outlive it.
//
// Type 5 (WBL m-map markers) is recognised by GetType() but has no codec: the WAL never
// holds it. Newer types (9+, Prometheus >= 2.5x/3.x) are kUnknown.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"

namespace strata::tsdb::record {

enum class Type : uint8_t {
  kSeries = 1,
  kSamples = 2,
  kTombstones = 3,
  kExemplars = 4,
  kMmapMarkers = 5,
  kMetadata = 6,
  kHistogramSamples = 7,
  kFloatHistogramSamples = 8,
  kUnknown = 255,
};

// The type of `rec` from its first byte; kUnknown for an empty record or an unknown byte.
Type GetType(std::string_view rec);
// "series", "samples", ... ("unknown" otherwise), as Prometheus's Type.String().
std::string_view TypeName(Type t);

// Metric types of metadata records (record.MetricType).
enum class MetricType : uint8_t {
  kUnknown = 0,
  kCounter = 1,
  kGauge = 2,
  kHistogram = 3,
  kGaugeHistogram = 4,
  kSummary = 5,
  kInfo = 6,
  kStateset = 7,
};

struct RefSeries {
  model::SeriesRef ref = 0;
  model::Labels labels;
  friend bool operator==(const RefSeries&, const RefSeries&) = default;
};

struct RefSample {
  model::SeriesRef ref = 0;
  int64_t t = 0;
  double v = 0;
  // Compares values bitwise, so NaNs (and the stale marker) compare as stored.
  friend bool operator==(const RefSample& a, const RefSample& b) {
    return a.ref == b.ref && model::Sample{a.t, a.v} == model::Sample{b.t, b.v};
  }
};

// One deleted interval [mint, maxt] of one series (a tombstones.Stone with one interval).
struct RefTombstone {
  model::SeriesRef ref = 0;
  int64_t mint = 0;
  int64_t maxt = 0;
  friend bool operator==(const RefTombstone&, const RefTombstone&) = default;
};

struct RefExemplar {
  model::SeriesRef ref = 0;
  int64_t t = 0;
  double v = 0;
  model::Labels labels;
  friend bool operator==(const RefExemplar& a, const RefExemplar& b) {
    return a.ref == b.ref && model::Sample{a.t, a.v} == model::Sample{b.t, b.v} &&
           a.labels == b.labels;
  }
};

struct RefMetadata {
  model::SeriesRef ref = 0;
  uint8_t type = 0;  // a MetricType value; other values are kept as read
  std::string unit;
  std::string help;
  friend bool operator==(const RefMetadata&, const RefMetadata&) = default;
};

// A native histogram's bucket layout: `length` consecutive buckets starting `offset` after
// the previous span (model/histogram.Span).
struct Span {
  int32_t offset = 0;
  uint32_t length = 0;
  friend bool operator==(const Span&, const Span&) = default;
};

// An integer native histogram as the WAL stores it (bucket counts delta-encoded, as in
// Prometheus's histogram.Histogram).
struct Histogram {
  uint8_t counter_reset_hint = 0;
  int32_t schema = 0;
  double zero_threshold = 0;
  uint64_t zero_count = 0;
  uint64_t count = 0;
  double sum = 0;
  std::vector<Span> positive_spans, negative_spans;
  std::vector<int64_t> positive_buckets, negative_buckets;
  friend bool operator==(const Histogram&, const Histogram&) = default;
};

// A float native histogram (absolute bucket counts).
struct FloatHistogram {
  uint8_t counter_reset_hint = 0;
  int32_t schema = 0;
  double zero_threshold = 0;
  double zero_count = 0;
  double count = 0;
  double sum = 0;
  std::vector<Span> positive_spans, negative_spans;
  std::vector<double> positive_buckets, negative_buckets;
  friend bool operator==(const FloatHistogram&, const FloatHistogram&) = default;
};

struct RefHistogramSample {
  model::SeriesRef ref = 0;
  int64_t t = 0;
  Histogram h;
  friend bool operator==(const RefHistogramSample&, const RefHistogramSample&) = default;
};

struct RefFloatHistogramSample {
  model::SeriesRef ref = 0;
  int64_t t = 0;
  FloatHistogram fh;
  friend bool operator==(const RefFloatHistogramSample&,
                         const RefFloatHistogramSample&) = default;
};

// Encoders: append one complete record (type byte included) to `*out`.
void EncodeSeries(std::span<const RefSeries> series, std::string* out);
void EncodeSamples(std::span<const RefSample> samples, std::string* out);
// The most bytes a samples record of `n` samples takes (type byte included).
constexpr size_t MaxSamplesRecordSize(size_t n) { return 17 + n * 28; }
// Writes one complete samples record to `buf`, which must hold MaxSamplesRecordSize(
// samples.size()) bytes, and returns its size: EncodeSamples without the string's
// zero-filling, for the commit path's reused buffers.
size_t EncodeSamplesTo(std::span<const RefSample> samples, char* buf);
void EncodeTombstones(std::span<const RefTombstone> tombstones, std::string* out);
void EncodeExemplars(std::span<const RefExemplar> exemplars, std::string* out);
void EncodeMetadata(std::span<const RefMetadata> metadata, std::string* out);
void EncodeHistogramSamples(std::span<const RefHistogramSample> histograms, std::string* out);
void EncodeFloatHistogramSamples(std::span<const RefFloatHistogramSample> histograms,
                                 std::string* out);

// Decoders: append the entries of `rec` to `*out`. Return InvalidArgument if `rec` is not
// of the expected type and DataLoss ("samples record: unexpected end of data at offset 17")
// if it is malformed; on error `*out` may hold a prefix of the entries.
absl::Status DecodeSeries(std::string_view rec, std::vector<RefSeries>* out);
absl::Status DecodeSamples(std::string_view rec, std::vector<RefSample>* out);
absl::Status DecodeTombstones(std::string_view rec, std::vector<RefTombstone>* out);
absl::Status DecodeExemplars(std::string_view rec, std::vector<RefExemplar>* out);
absl::Status DecodeMetadata(std::string_view rec, std::vector<RefMetadata>* out);
absl::Status DecodeHistogramSamples(std::string_view rec, std::vector<RefHistogramSample>* out);
absl::Status DecodeFloatHistogramSamples(std::string_view rec,
                                         std::vector<RefFloatHistogramSample>* out);

}  // namespace strata::tsdb::record
