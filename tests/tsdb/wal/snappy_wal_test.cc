// Reads the WAL segment that Prometheus 2.42 wrote with its default Snappy compression
// (testdata/README.md). Decompression is checked end to end: each record must decode, and
// re-encoding the decoded record must give back exactly the decompressed bytes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "strata/tsdb/record/record.h"
#include "strata/tsdb/wal/reader.h"
#include "testing/status_matchers.h"

namespace strata::tsdb::wal {
namespace {

TEST(SnappyWalTest, ReadsPrometheusDefaultCompressedSegment) {
  const char* src = std::getenv("STRATA_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "STRATA_SOURCE_DIR not set (run through meson test)";
  const std::string dir = std::string(src) + "/tests/tsdb/wal/testdata/prometheus-2.42-snappy";
  STRATA_ASSERT_OK_AND_ASSIGN(auto r, Reader::Open({SegmentRange{dir}}));
  size_t series = 0, samples = 0;
  std::map<model::SeriesRef, int64_t> last_t;  // ref -> last timestamp seen
  while (r->Next()) {
    const std::string rec(r->record());
    std::string again;
    switch (record::GetType(rec)) {
      case record::Type::kSeries: {
        std::vector<record::RefSeries> got;
        STRATA_ASSERT_OK(record::DecodeSeries(rec, &got));
        for (const auto& s : got) {
          EXPECT_FALSE(s.labels.MetricName().empty()) << s.labels.ToString();
          last_t[s.ref] = -1;
        }
        record::EncodeSeries(got, &again);
        series += got.size();
        break;
      }
      case record::Type::kSamples: {
        std::vector<record::RefSample> got;
        STRATA_ASSERT_OK(record::DecodeSamples(rec, &got));
        for (const auto& s : got) {
          auto it = last_t.find(s.ref);
          ASSERT_NE(it, last_t.end()) << "sample for unknown series ref " << s.ref;
          EXPECT_GT(s.t, it->second) << "ref " << s.ref;
          EXPECT_GT(s.t, int64_t{1'600'000'000'000});  // written in 2026
          it->second = s.t;
        }
        record::EncodeSamples(got, &again);
        samples += got.size();
        break;
      }
      default:
        again = rec;  // other record types are not expected here, but are not an error
        break;
    }
    EXPECT_EQ(again, rec) << "record at offset " << r->offset();
  }
  STRATA_ASSERT_OK(r->status());
  // Counted when the segment was captured: a self-scrape exposes a few hundred series.
  EXPECT_GT(series, 300u);
  EXPECT_GT(samples, 1000u);
  std::printf("decoded %zu series and %zu samples from Snappy records\n", series, samples);
}

}  // namespace
}  // namespace strata::tsdb::wal
