#include "strata/tsdb/record/record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "testing/status_matchers.h"

namespace strata::tsdb::record {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// Layouts computed by hand from ../shared/formats/tsdb-format.md section 7 and
// Prometheus's tsdb/record/record.go encoders.
TEST(RecordTest, SamplesRecordMatchesHandComputedBytes) {
  const std::vector<RefSample> samples = {{1, 1000, 1.0}, {2, 1015, 0.5}};
  std::string rec;
  EncodeSamples(samples, &rec);
  const std::string want =
      Bytes({0x02,                                            // type samples
             0, 0, 0, 0, 0, 0, 0, 1,                          // first ref
             0, 0, 0, 0, 0, 0, 0x03, 0xe8,                    // first t = 1000
             0x00, 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,        // dref 0, dt 0, 1.0
             0x02, 0x1e, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0});      // dref 1, dt 15, 0.5
  EXPECT_EQ(rec, want);
  std::vector<RefSample> got;
  STRATA_ASSERT_OK(DecodeSamples(rec, &got));
  EXPECT_EQ(got, samples);
}

TEST(RecordTest, EmptySamplesRecordIsTheTypeByteAlone) {
  std::string rec;
  EncodeSamples({}, &rec);
  EXPECT_EQ(rec, Bytes({0x02}));
  std::vector<RefSample> got;
  STRATA_ASSERT_OK(DecodeSamples(rec, &got));
  EXPECT_TRUE(got.empty());
}

TEST(RecordTest, SeriesRecordMatchesHandComputedBytes) {
  const std::vector<RefSeries> series = {{1, model::Labels{{"__name__", "up"}, {"job", "a"}}}};
  std::string rec;
  EncodeSeries(series, &rec);
  std::string want = Bytes({0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0x02, 0x08});
  want += "__name__";
  want += Bytes({0x02});
  want += "up";
  want += Bytes({0x03});
  want += "job";
  want += Bytes({0x01});
  want += "a";
  EXPECT_EQ(rec, want);
  std::vector<RefSeries> got;
  STRATA_ASSERT_OK(DecodeSeries(rec, &got));
  EXPECT_EQ(got, series);
}

TEST(RecordTest, TombstonesRecordMatchesHandComputedBytes) {
  const std::vector<RefTombstone> stones = {{5, -1, 100}};
  std::string rec;
  EncodeTombstones(stones, &rec);
  // varint(-1) = zigzag 1 = 0x01; varint(100) = zigzag 200 = 0xc8 0x01.
  EXPECT_EQ(rec, Bytes({0x03, 0, 0, 0, 0, 0, 0, 0, 5, 0x01, 0xc8, 0x01}));
  std::vector<RefTombstone> got;
  STRATA_ASSERT_OK(DecodeTombstones(rec, &got));
  EXPECT_EQ(got, stones);
}

TEST(RecordTest, MetadataRecordMatchesHandComputedBytes) {
  const std::vector<RefMetadata> md = {{3, static_cast<uint8_t>(MetricType::kCounter), "s", "h"}};
  std::string rec;
  EncodeMetadata(md, &rec);
  std::string want = Bytes({0x06, 0x03, 0x01, 0x02, 0x04});
  want += "UNIT";
  want += Bytes({0x01});
  want += "s";
  want += Bytes({0x04});
  want += "HELP";
  want += Bytes({0x01});
  want += "h";
  EXPECT_EQ(rec, want);
  std::vector<RefMetadata> got;
  STRATA_ASSERT_OK(DecodeMetadata(rec, &got));
  EXPECT_EQ(got, md);
}

TEST(RecordTest, MetadataDecoderSkipsUnknownFields) {
  std::string rec = Bytes({0x06, 0x09, 0x02, 0x03, 0x04});
  rec += "HELP";
  rec += Bytes({0x02});
  rec += "hi";
  rec += Bytes({0x03});
  rec += "FOO";
  rec += Bytes({0x01});
  rec += "x";
  rec += Bytes({0x04});
  rec += "UNIT";
  rec += Bytes({0x00});
  std::vector<RefMetadata> got;
  STRATA_ASSERT_OK(DecodeMetadata(rec, &got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].ref, 9u);
  EXPECT_EQ(got[0].type, 2);
  EXPECT_EQ(got[0].help, "hi");
  EXPECT_EQ(got[0].unit, "");
}

TEST(RecordTest, ExemplarsRecordMatchesHandComputedBytes) {
  const std::vector<RefExemplar> ex = {{7, 10, 2.0, model::Labels{{"trace_id", "ab"}}}};
  std::string rec;
  EncodeExemplars(ex, &rec);
  std::string want = Bytes({0x04, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 10, 0x00, 0x00,
                            0x40, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x08});
  want += "trace_id";
  want += Bytes({0x02});
  want += "ab";
  EXPECT_EQ(rec, want);
  std::vector<RefExemplar> got;
  STRATA_ASSERT_OK(DecodeExemplars(rec, &got));
  EXPECT_EQ(got, ex);
}

Histogram SmallHistogram() {
  Histogram h;
  h.zero_count = 1;
  h.count = 5;
  h.sum = 10;
  h.positive_spans = {{0, 2}};
  h.positive_buckets = {2, 1};  // delta-encoded: counts 2, 3
  return h;
}

TEST(RecordTest, HistogramSamplesRecordMatchesHandComputedBytes) {
  const std::vector<RefHistogramSample> hs = {{9, 100, SmallHistogram()}};
  std::string rec;
  EncodeHistogramSamples(hs, &rec);
  const std::string want = Bytes({
      0x07, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 100,  // type, first ref, first t
      0x00, 0x00,                                             // dref, dt
      0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,                     // hint, schema, zero threshold
      0x01, 0x05, 0x40, 0x24, 0, 0, 0, 0, 0, 0,               // zero count, count, sum 10
      0x01, 0x00, 0x02, 0x00,                                 // spans: +{0,2}, none negative
      0x02, 0x04, 0x02, 0x00});                               // buckets: +[2,1], none negative
  EXPECT_EQ(rec, want);
  std::vector<RefHistogramSample> got;
  STRATA_ASSERT_OK(DecodeHistogramSamples(rec, &got));
  EXPECT_EQ(got, hs);
}

TEST(RecordTest, FloatHistogramSamplesRecordMatchesHandComputedBytes) {
  FloatHistogram fh;
  fh.zero_count = 1;
  fh.count = 5;
  fh.sum = 10;
  fh.positive_spans = {{0, 2}};
  fh.positive_buckets = {2, 3};
  const std::vector<RefFloatHistogramSample> hs = {{9, 100, fh}};
  std::string rec;
  EncodeFloatHistogramSamples(hs, &rec);
  const std::string want = Bytes({
      0x08, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 100, 0x00, 0x00,
      0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
      0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x40, 0x14, 0, 0, 0, 0, 0, 0,  // zero count 1, count 5
      0x40, 0x24, 0, 0, 0, 0, 0, 0,                                // sum 10
      0x01, 0x00, 0x02, 0x00,
      0x02, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x08, 0, 0, 0, 0, 0, 0, 0x00});  // [2.0, 3.0]
  EXPECT_EQ(rec, want);
  std::vector<RefFloatHistogramSample> got;
  STRATA_ASSERT_OK(DecodeFloatHistogramSamples(rec, &got));
  EXPECT_EQ(got, hs);
}

TEST(RecordTest, HistogramRoundTripWithNegativeSchemaSpansAndDeltas) {
  Histogram h = SmallHistogram();
  h.counter_reset_hint = 2;
  h.schema = -4;
  h.zero_threshold = 1e-128;
  h.negative_spans = {{-3, 1}, {2, 2}};
  h.negative_buckets = {5, -2, 7};
  const std::vector<RefHistogramSample> hs = {{5, 1000, h}, {3, 900, SmallHistogram()}};
  std::string rec;
  EncodeHistogramSamples(hs, &rec);
  std::vector<RefHistogramSample> got;
  STRATA_ASSERT_OK(DecodeHistogramSamples(rec, &got));
  EXPECT_EQ(got, hs);
  // Truncation is DataLoss, never a crash, except at an entry boundary (17 = header alone,
  // or right after the first entry) or after the type byte, where a shorter record is
  // well-formed.
  std::string first_only;
  EncodeHistogramSamples(std::span(hs).first(1), &first_only);
  for (size_t n = 1; n < rec.size(); ++n) {
    if (n == 1 || n == 17 || n == first_only.size()) continue;
    got.clear();
    EXPECT_THAT(DecodeHistogramSamples(rec.substr(0, n), &got),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("histogram_samples record")))
        << "cut at " << n;
  }
}

TEST(RecordTest, GetTypeAndNames) {
  EXPECT_EQ(GetType(""), Type::kUnknown);
  EXPECT_EQ(GetType(Bytes({0x02})), Type::kSamples);
  EXPECT_EQ(GetType(Bytes({0x07})), Type::kHistogramSamples);
  EXPECT_EQ(GetType(Bytes({0x09})), Type::kUnknown);
  EXPECT_EQ(GetType(Bytes({0x00})), Type::kUnknown);
  EXPECT_EQ(TypeName(Type::kTombstones), "tombstones");
  EXPECT_EQ(TypeName(Type::kUnknown), "unknown");
}

TEST(RecordTest, RandomRoundTripsWithNegativeDeltasAndSpecialValues) {
  const uint32_t seed = 20261121;
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  for (int iter = 0; iter < 200; ++iter) {
    std::vector<RefSample> samples;
    std::vector<RefSeries> series;
    std::vector<RefTombstone> stones;
    const int n = static_cast<int>(rng() % 50);
    for (int i = 0; i < n; ++i) {
      double v;
      switch (rng() % 4) {
        case 0: v = model::kStaleNaN; break;
        case 1: v = -std::numeric_limits<double>::infinity(); break;
        default: v = std::bit_cast<double>(rng()); break;
      }
      // Refs and timestamps anywhere in range, so deltas are negative and huge too.
      samples.push_back(RefSample{rng(), static_cast<int64_t>(rng()), v});
      series.push_back(RefSeries{rng() % 1000,
                                 model::Labels{{"__name__", "m" + std::to_string(rng() % 7)},
                                               {"i", std::to_string(i)}}});
      stones.push_back(RefTombstone{rng(), static_cast<int64_t>(rng()),
                                    static_cast<int64_t>(rng())});
    }
    std::string a, b, c;
    EncodeSamples(samples, &a);
    EncodeSeries(series, &b);
    EncodeTombstones(stones, &c);
    std::vector<RefSample> ga;
    std::vector<RefSeries> gb;
    std::vector<RefTombstone> gc;
    STRATA_ASSERT_OK(DecodeSamples(a, &ga));
    STRATA_ASSERT_OK(DecodeSeries(b, &gb));
    STRATA_ASSERT_OK(DecodeTombstones(c, &gc));
    ASSERT_EQ(ga, samples) << "iteration " << iter;
    ASSERT_EQ(gb, series) << "iteration " << iter;
    ASSERT_EQ(gc, stones) << "iteration " << iter;
  }
}

TEST(RecordTest, DecodersAppendToExistingEntries) {
  std::string rec;
  EncodeSamples(std::vector<RefSample>{{3, 5, 1}}, &rec);
  std::vector<RefSample> got = {{1, 1, 1}};
  STRATA_ASSERT_OK(DecodeSamples(rec, &got));
  EXPECT_THAT(got, ElementsAre(RefSample{1, 1, 1}, RefSample{3, 5, 1}));
}

TEST(RecordTest, MalformedRecordsAreDataLossNamingTypeAndOffset) {
  std::string rec;
  EncodeSamples(std::vector<RefSample>{{1, 1000, 1.0}, {2, 1015, 0.5}}, &rec);
  std::vector<RefSample> samples;
  // Cut inside the second sample's value: the decoder reads 8 bytes from offset 29.
  EXPECT_THAT(DecodeSamples(rec.substr(0, rec.size() - 3), &samples),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("samples record: unexpected end of data at offset")));
  // Cut inside the header.
  EXPECT_THAT(DecodeSamples(rec.substr(0, 5), &samples),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("samples record")));

  std::string series;
  EncodeSeries(std::vector<RefSeries>{{1, model::Labels{{"a", "1"}}}}, &series);
  std::vector<RefSeries> got;
  EXPECT_THAT(DecodeSeries(series + "x", &got),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("series record")));
  // Labels out of order: b before a.
  std::string unsorted = Bytes({0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0x02, 0x01, 'b', 0x01, '1', 0x01,
                                'a', 0x01, '2'});
  EXPECT_THAT(DecodeSeries(unsorted, &got),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("series record: label set at offset 10")));
  // A varint that never ends.
  std::string bad_tomb = Bytes({0x03, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  std::vector<RefTombstone> stones;
  EXPECT_THAT(DecodeTombstones(bad_tomb, &stones),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("tombstones record: invalid varint")));
  // A huge label count cannot make the decoder run past the data.
  std::string huge = Bytes({0x04, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 10, 0x00, 0x00,
                            0x40, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f});
  std::vector<RefExemplar> ex;
  EXPECT_THAT(DecodeExemplars(huge, &ex),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("exemplars record")));
  std::vector<RefMetadata> md;
  EXPECT_THAT(DecodeMetadata(Bytes({0x06, 0x01, 0x01, 0x05, 0x04}), &md),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("metadata record")));
}

TEST(RecordTest, WrongTypeIsInvalidArgument) {
  std::string rec;
  EncodeSamples({}, &rec);
  std::vector<RefSeries> got;
  EXPECT_THAT(DecodeSeries(rec, &got),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a series record")));
  EXPECT_THAT(DecodeSeries("", &got), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("")));
}

}  // namespace
}  // namespace strata::tsdb::record
