#include "strata/tsdb/wal/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "strata/tsdb/record/record.h"
#include "strata/tsdb/wal/writer.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tsdb/wal/wal_test_util.h"

namespace strata::tsdb::wal {
namespace {

using ::strata::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using record::RefMetadata;
using record::RefSample;
using record::RefSeries;
using record::RefTombstone;

base::FileSystem& Fs() { return *base::DefaultFileSystem(); }

model::Labels Lbl(int i) { return model::Labels{{"__name__", "m"}, {"i", std::to_string(i)}}; }

std::string Series(std::vector<RefSeries> s) {
  std::string out;
  record::EncodeSeries(s, &out);
  return out;
}
std::string Samples(std::vector<RefSample> s) {
  std::string out;
  record::EncodeSamples(s, &out);
  return out;
}
std::string Stones(std::vector<RefTombstone> s) {
  std::string out;
  record::EncodeTombstones(s, &out);
  return out;
}
std::string Meta(std::vector<RefMetadata> m) {
  std::string out;
  record::EncodeMetadata(m, &out);
  return out;
}

std::vector<std::string> ReplayAll(const std::string& dir) {
  std::vector<std::string> out;
  absl::Status s = Replay(Fs(), dir, [&](std::string_view rec) {
    out.emplace_back(rec);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

class CheckpointTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CheckpointTest, KeepsLiveSeriesAndRecentDataThenReplaysCheckpointAndLaterSegments) {
  TempDir tmp;
  const std::string dir = tmp.Sub("wal");
  WriterOptions opts;
  opts.compression = GetParam();
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(dir, opts));
  // Segment 0.
  STRATA_ASSERT_OK(w->Log({Series({{1, Lbl(1)}, {2, Lbl(2)}, {3, Lbl(3)}}),
                           Samples({{1, 100, 1}, {2, 100, 2}, {3, 100, 3}})}));
  STRATA_ASSERT_OK(w->Log({Meta({{1, 1, "s", "old help"}, {3, 2, "", "gone"}})}));
  STRATA_ASSERT_OK(w->NextSegment());
  // Segment 1.
  STRATA_ASSERT_OK(w->Log({Samples({{1, 200, 1}, {3, 260, 3}}),
                           Stones({{1, 0, 50}, {2, 0, 500}}),
                           Meta({{1, 1, "s", "new help"}, {2, 2, "bytes", "b"}})}));
  STRATA_ASSERT_OK(w->NextSegment());
  // Segment 2.
  STRATA_ASSERT_OK(w->Log({Samples({{1, 300, 1.5}, {2, 249, 2}, {2, 250, 2.5}})}));
  STRATA_ASSERT_OK(w->NextSegment());
  // Segment 3, after the checkpoint range.
  STRATA_ASSERT_OK(w->Log({Series({{4, Lbl(4)}}), Samples({{4, 400, 4}})}));
  STRATA_ASSERT_OK(w->Sync());

  // Series 3 is gone from the head; the head's new lower bound is 250.
  STRATA_ASSERT_OK_AND_ASSIGN(
      CheckpointStats stats,
      Checkpoint(Fs(), dir, 0, 2, [](model::SeriesRef ref) { return ref != 3; }, 250,
                 GetParam()));
  EXPECT_EQ(stats.total_series, 3);
  EXPECT_EQ(stats.dropped_series, 1);
  EXPECT_EQ(stats.total_samples, 8);
  EXPECT_EQ(stats.dropped_samples, 5);  // t < 250: 100 x3, 200, 249
  EXPECT_EQ(stats.total_tombstones, 2);
  EXPECT_EQ(stats.dropped_tombstones, 1);
  EXPECT_EQ(stats.total_metadata, 4);
  EXPECT_EQ(stats.dropped_metadata, 2);  // series 3's, and series 1's superseded one

  STRATA_ASSERT_OK_AND_ASSIGN(CheckpointRef cp, LastCheckpoint(Fs(), dir));
  EXPECT_EQ(cp.index, 2);
  EXPECT_EQ(cp.path, dir + "/checkpoint.00000002");
  STRATA_ASSERT_OK_AND_ASSIGN(auto cp_recs, testutil::ReadAll(cp.path));
  // Samples of a dropped series are filtered by time only, as Prometheus does.
  EXPECT_THAT(cp_recs, ElementsAre(Series({{1, Lbl(1)}, {2, Lbl(2)}}), Samples({{3, 260, 3}}),
                                   Stones({{2, 0, 500}}), Samples({{1, 300, 1.5}, {2, 250, 2.5}}),
                                   Meta({{1, 1, "s", "new help"}, {2, 2, "bytes", "b"}})));

  // The segments the checkpoint covers can go; replay = checkpoint + segment 3.
  STRATA_ASSERT_OK(w->Truncate(3));
  STRATA_ASSERT_OK_AND_ASSIGN(auto ranges, ReplayRanges(Fs(), dir));
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[1].first, 3);
  std::vector<std::string> want = cp_recs;
  want.push_back(Series({{4, Lbl(4)}}));
  want.push_back(Samples({{4, 400, 4}}));
  EXPECT_EQ(ReplayAll(dir), want);

  // The next checkpoint folds the previous one in and deletes it.
  STRATA_ASSERT_OK(w->Log({Samples({{4, 500, 5}})}));
  STRATA_ASSERT_OK(w->NextSegment());
  STRATA_ASSERT_OK_AND_ASSIGN(
      stats, Checkpoint(Fs(), dir, 3, 3, [](model::SeriesRef) { return true; }, 300, GetParam()));
  STRATA_ASSERT_OK_AND_ASSIGN(cp, LastCheckpoint(Fs(), dir));
  EXPECT_EQ(cp.index, 3);
  STRATA_ASSERT_OK_AND_ASSIGN(bool old_exists, Fs().Exists(dir + "/checkpoint.00000002"));
  EXPECT_FALSE(old_exists);
  STRATA_ASSERT_OK(w->Truncate(4));
  EXPECT_THAT(ReplayAll(dir),
              ElementsAre(Series({{1, Lbl(1)}, {2, Lbl(2)}}), Stones({{2, 0, 500}}),
                          Samples({{1, 300, 1.5}}), Series({{4, Lbl(4)}}), Samples({{4, 400, 4}}),
                          Samples({{4, 500, 5}}),
                          Meta({{1, 1, "s", "new help"}, {2, 2, "bytes", "b"}})));
}

INSTANTIATE_TEST_SUITE_P(Compression, CheckpointTest,
                         ::testing::Values(Compression::kNone, Compression::kZstd));

TEST(CheckpointHistogramTest, FiltersHistogramSamplesByMint) {
  TempDir tmp;
  const std::string dir = tmp.Sub("wal");
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(dir, WriterOptions{}));
  record::Histogram h;
  h.count = 3;
  h.positive_spans = {{0, 1}};
  h.positive_buckets = {3};
  record::FloatHistogram fh;
  fh.count = 1.5;
  std::string hist, fhist;
  record::EncodeHistogramSamples(
      std::vector<record::RefHistogramSample>{{1, 100, h}, {1, 300, h}}, &hist);
  record::EncodeFloatHistogramSamples(
      std::vector<record::RefFloatHistogramSample>{{2, 100, fh}}, &fhist);
  STRATA_ASSERT_OK(w->Log({Series({{1, Lbl(1)}, {2, Lbl(2)}}), hist, fhist}));
  STRATA_ASSERT_OK(w->NextSegment());
  STRATA_ASSERT_OK_AND_ASSIGN(
      CheckpointStats stats,
      Checkpoint(Fs(), dir, 0, 0, [](model::SeriesRef) { return true; }, 200));
  EXPECT_EQ(stats.total_samples, 3);
  EXPECT_EQ(stats.dropped_samples, 2);
  std::string want_hist;
  record::EncodeHistogramSamples(std::vector<record::RefHistogramSample>{{1, 300, h}},
                                 &want_hist);
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, testutil::ReadAll(CheckpointDir(dir, 0)));
  EXPECT_THAT(recs, ElementsAre(Series({{1, Lbl(1)}, {2, Lbl(2)}}), want_hist));
}

TEST(CheckpointErrorsTest, GapAfterLastCheckpointAndCorruptInputLeaveNoCheckpoint) {
  TempDir tmp;
  const std::string dir = tmp.Sub("wal");
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(dir, WriterOptions{}));
  STRATA_ASSERT_OK(w->Log({Series({{1, Lbl(1)}})}));
  STRATA_ASSERT_OK(w->NextSegment());
  STRATA_ASSERT_OK(w->Log({std::string("\x02\x01", 2)}));  // a truncated samples record
  STRATA_ASSERT_OK(w->NextSegment());
  auto keep = [](model::SeriesRef) { return true; };
  STRATA_ASSERT_OK(Checkpoint(Fs(), dir, 0, 0, keep, 0).status());
  EXPECT_THAT(Checkpoint(Fs(), dir, 2, 2, keep, 0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("gap")));
  EXPECT_THAT(Checkpoint(Fs(), dir, 1, 1, keep, 0),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("00000001 record at offset 0: samples record")));
  STRATA_ASSERT_OK_AND_ASSIGN(auto names, Fs().ListDir(dir));
  EXPECT_THAT(names, ElementsAre("00000000", "00000001", "00000002", "checkpoint.00000000"));
  EXPECT_THAT(LastCheckpoint(Fs(), tmp.path()), StatusIs(absl::StatusCode::kNotFound, HasSubstr("")));
}

TEST(CheckpointErrorsTest, DeleteTempCheckpointsRemovesLeftovers) {
  TempDir tmp;
  STRATA_ASSERT_OK(Fs().CreateDirs(tmp.Sub("checkpoint.00000007.tmp")));
  STRATA_ASSERT_OK(Fs().CreateDirs(tmp.Sub("checkpoint.00000006")));
  STRATA_ASSERT_OK(DeleteTempCheckpoints(Fs(), tmp.path()));
  STRATA_ASSERT_OK_AND_ASSIGN(auto names, Fs().ListDir(tmp.path()));
  EXPECT_THAT(names, ElementsAre("checkpoint.00000006"));
}

}  // namespace
}  // namespace strata::tsdb::wal
