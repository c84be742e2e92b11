// Fuzzes the WAL segment reader and the record decoders on arbitrary bytes: the input is
// read as one segment; every record it yields is decoded by type. Nothing may crash, read
// out of bounds or allocate without bound; the tail-repair heuristic runs on every
// corruption found.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/tsdb/record/record.h"
#include "strata/tsdb/wal/reader.h"
#include "tsdb/wal/segment_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace record = strata::tsdb::record;
  namespace wal = strata::tsdb::wal;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  wal::ReaderOptions opts;
  opts.max_record_bytes = size_t{1} << 20;
  auto r = wal::Reader::FromBytes(bytes, opts);
  std::vector<record::RefSeries> series;
  std::vector<record::RefSample> samples;
  std::vector<record::RefTombstone> stones;
  std::vector<record::RefExemplar> exemplars;
  std::vector<record::RefMetadata> metadata;
  std::vector<record::RefHistogramSample> histograms;
  std::vector<record::RefFloatHistogramSample> float_histograms;
  while (r->Next()) {
    const std::string_view rec = r->record();
    series.clear();
    samples.clear();
    stones.clear();
    exemplars.clear();
    metadata.clear();
    histograms.clear();
    float_histograms.clear();
    switch (record::GetType(rec)) {
      case record::Type::kSeries: (void)record::DecodeSeries(rec, &series); break;
      case record::Type::kSamples: (void)record::DecodeSamples(rec, &samples); break;
      case record::Type::kTombstones: (void)record::DecodeTombstones(rec, &stones); break;
      case record::Type::kExemplars: (void)record::DecodeExemplars(rec, &exemplars); break;
      case record::Type::kMetadata: (void)record::DecodeMetadata(rec, &metadata); break;
      case record::Type::kHistogramSamples:
        (void)record::DecodeHistogramSamples(rec, &histograms);
        break;
      case record::Type::kFloatHistogramSamples:
        (void)record::DecodeFloatHistogramSamples(rec, &float_histograms);
        break;
      default: break;
    }
  }
  // The decoders also see the raw input as one record, reaching paths a CRC would guard.
  (void)record::DecodeSeries(bytes, &series);
  (void)record::DecodeSamples(bytes, &samples);
  (void)record::DecodeExemplars(bytes, &exemplars);
  (void)record::DecodeMetadata(bytes, &metadata);
  (void)record::DecodeHistogramSamples(bytes, &histograms);
  (void)record::DecodeFloatHistogramSamples(bytes, &float_histograms);

  wal::internal::SegmentParser parser(bytes);
  std::string payload;
  uint8_t flags = 0;
  while (parser.Next(&payload, &flags) == wal::internal::SegmentParser::Result::kRecord) {
  }
  (void)parser.ValidFragmentAfterError();
  return 0;
}
