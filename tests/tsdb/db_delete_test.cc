// DB::Delete, CleanTombstones and size retention against Prometheus 2.42 semantics
// (tsdb/db.go Delete/CleanTombstones/BeyondSizeRetention, tsdb/head.go Delete,
// tsdb/block.go Delete, tsdb/tombstones/tombstones.go), with promtool 2.42 reading the
// tombstones strata writes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "strata/tsdb/block/tombstones.h"
#include "strata/tsdb/db.h"
#include "strata/tsdb/head.h"
#include "strata/tsdb/head_wal.h"
#include "strata/tsdb/record/record.h"
#include "strata/tsdb/wal/checkpoint.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tsdb/db_testing.h"

namespace strata::tsdb {
namespace {

using dbtest::AppendRange;
using dbtest::Eq;
using dbtest::QueryAll;
using dbtest::ReadFile;
using dbtest::SameSamples;
using dbtest::Series;
using dbtest::SeriesMap;

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;

// The expected result of deleting the closed range [mint, maxt] from the series selected by
// `pick`; series left without samples disappear from query results.
SeriesMap Without(SeriesMap m, int64_t mint, int64_t maxt,
                  const std::function<bool(const std::string&)>& pick) {
  for (auto it = m.begin(); it != m.end();) {
    if (pick(it->first)) {
      auto& v = it->second;
      v.erase(std::remove_if(v.begin(), v.end(),
                             [&](const model::Sample& s) { return s.t >= mint && s.t <= maxt; }),
              v.end());
    }
    if (it->second.empty()) {
      it = m.erase(it);
    } else {
      ++it;
    }
  }
  return m;
}

bool IsJobA(const std::string& key) { return key.find("job=\"a\"") != std::string::npos; }

// Independent references for the tombstones file layout: bitwise CRC-32C (Castagnoli) and
// Go's binary.PutUvarint / PutVarint.
uint32_t Crc32cBitwise(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}
void GoUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void GoVarint(std::string* out, int64_t v) {
  GoUvarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

// Series refs of a block by labels string.
std::map<std::string, model::SeriesRef> BlockRefs(const block::Block& b) {
  std::map<std::string, model::SeriesRef> out;
  auto p = b.index().AllPostings();
  EXPECT_TRUE(p.ok());
  model::Labels lset;
  std::vector<index::ChunkMeta> chks;
  while ((*p)->Next()) {
    EXPECT_TRUE(b.index().Series((*p)->At(), &lset, &chks).ok());
    out[lset.ToString()] = (*p)->At();
  }
  return out;
}

// Every record of the WAL in `dir` (checkpoint first) of type `t`, decoded.
std::vector<record::RefTombstone> WalTombstones(const std::string& dir) {
  std::vector<record::RefTombstone> out;
  absl::Status s = wal::Replay(*base::DefaultFileSystem(), dir, [&](std::string_view rec) {
    if (record::GetType(rec) != record::Type::kTombstones) return absl::OkStatus();
    std::vector<record::RefTombstone> v;
    absl::Status d = record::DecodeTombstones(rec, &v);
    out.insert(out.end(), v.begin(), v.end());
    return d;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

TEST(IntervalsTest, AddMergesOverlappingAndAdjacentAsPrometheus) {
  // Cases from Prometheus's TestAddingNewIntervals (tsdb/tombstones/tombstones_test.go).
  block::Intervals in;
  block::AddInterval(&in, {1, 2});
  block::AddInterval(&in, {4, 5});  // gap of one (3): stays apart
  EXPECT_THAT(in, ElementsAre(block::Interval{1, 2}, block::Interval{4, 5}));
  block::AddInterval(&in, {3, 3});  // adjacent on both sides: one interval
  EXPECT_THAT(in, ElementsAre(block::Interval{1, 5}));
  block::AddInterval(&in, {10, 20});
  block::AddInterval(&in, {0, 12});  // swallows both
  EXPECT_THAT(in, ElementsAre(block::Interval{0, 20}));
  block::AddInterval(&in, {INT64_MIN, -5});
  block::AddInterval(&in, {30, INT64_MAX});
  EXPECT_THAT(in, ElementsAre(block::Interval{INT64_MIN, -5}, block::Interval{0, 20},
                              block::Interval{30, INT64_MAX}));
  EXPECT_TRUE(block::IsDeleted(in, -5));
  EXPECT_FALSE(block::IsDeleted(in, -4));
  EXPECT_TRUE(block::IsDeleted(in, 20));
  EXPECT_FALSE(block::IsDeleted(in, 25));
  EXPECT_TRUE(block::Overlaps(in, 21, 30));
  EXPECT_FALSE(block::Overlaps(in, 21, 29));
}

TEST(IntervalsTest, TruncateBeforeDropsWhollyOlderIntervalsOnly) {
  block::Tombstones ts;
  ts.Add(1, {0, 10});
  ts.Add(1, {20, 30});
  ts.Add(2, {5, 8});
  ts.TruncateBefore(11);  // Prometheus: keep intervals with maxt >= t, unchanged
  EXPECT_THAT(ts.Get(1), ElementsAre(block::Interval{20, 30}));
  EXPECT_THAT(ts.Get(2), IsEmpty());
  ts.TruncateBefore(30);
  EXPECT_THAT(ts.Get(1), ElementsAre(block::Interval{20, 30}));
  ts.DeleteSeries(1);
  EXPECT_TRUE(ts.empty());
}

TEST(HeadTombstonesTest, ReplaySkipsObsoleteIntervalsAndUnknownRefs) {
  // Prometheus's loadWAL: an interval ending before the minimum valid time is dropped, one
  // of a ref never logged is counted as unknown.
  Head h;
  const record::RefSeries series[] = {{1, Series(0)}};
  STRATA_ASSERT_OK(h.ReplaySeries(series));
  const record::RefSample samples[] = {{1, 100, 1}, {1, 200, 2}};
  STRATA_ASSERT_OK(h.ReplaySamples(samples));
  STRATA_ASSERT_OK(h.Truncate(100));
  const record::RefTombstone stones[] = {{1, 0, 50}, {1, 150, 250}, {7, 0, 300}};
  STRATA_ASSERT_OK(h.ReplayTombstones(stones));
  const block::Tombstones ts = h.TombstonesSnapshot();
  EXPECT_THAT(ts.Get(1), ElementsAre(block::Interval{150, 250}));
  EXPECT_EQ(ts.NumIntervals(), 1u);
  EXPECT_EQ(h.replay_unknown_refs(), 1u);
  SeriesMap got = QueryAll(h);
  EXPECT_THAT(got[Series(0).ToString()], ElementsAre(model::Sample{100, 1}));
}

// A sink that logs samples but has no tombstone support (the WalSink default).
class SamplesOnlySink final : public WalSink {
 public:
  absl::Status Log(std::span<const record::RefSeries>,
                   std::span<const record::RefSample>) override {
    return absl::OkStatus();
  }
};

TEST(HeadTombstonesTest, DeleteFailsWithoutApplyingWhenTheSinkCannotLogTombstones) {
  SamplesOnlySink sink;
  HeadOptions opts;
  opts.wal = &sink;
  Head h(opts);
  auto app = h.NewAppender();
  ASSERT_TRUE(app->Append(0, Series(0), 10, 1).ok());
  STRATA_ASSERT_OK(app->Commit());
  EXPECT_THAT(h.Delete(0, 100, {Eq("i", "0")}),
              StatusIs(absl::StatusCode::kUnimplemented, ::testing::HasSubstr("tombstones")));
  EXPECT_TRUE(h.TombstonesSnapshot().empty());
  EXPECT_EQ(QueryAll(h)[Series(0).ToString()].size(), 1u);
}

TEST(DBDeleteTest, HeadDeleteHidesSamplesAndIsReplayedFromWal) {
  testing::TempDir tmp;
  SeriesMap want;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
    want = AppendRange(*db, 3, 0, 100 * kMinute, kMinute);
    STRATA_ASSERT_OK(db->Delete(20 * kMinute, 50 * kMinute, {Eq("job", "a")}));
    want = Without(want, 20 * kMinute, 50 * kMinute, IsJobA);
    EXPECT_TRUE(SameSamples(QueryAll(*db), want));
    // Range queries that start or end inside the deleted interval.
    EXPECT_TRUE(SameSamples(
        QueryAll(*db, 30 * kMinute, 60 * kMinute),
        Without(Without(want, INT64_MIN, 30 * kMinute - 1, [](const std::string&) { return true; }),
                60 * kMinute + 1, INT64_MAX, [](const std::string&) { return true; })));
    STRATA_ASSERT_OK(db->Close());
  }
  // One tombstones record (type 3), clamped to each series' samples.
  auto stones = WalTombstones(tmp.Sub("wal"));
  ASSERT_EQ(stones.size(), 2u);
  for (const auto& s : stones) {
    EXPECT_EQ(s.mint, 20 * kMinute);
    EXPECT_EQ(s.maxt, 50 * kMinute);
  }
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
}

TEST(DBDeleteTest, HeadDeleteIsClampedToTheSeriesSoLaterSamplesStayVisible) {
  // Prometheus's Head.Delete clamps the interval to the head's and the series' current
  // range: deleting everything does not hide samples appended afterwards.
  testing::TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  AppendRange(*db, 2, 0, 10 * kMinute, kMinute);
  STRATA_ASSERT_OK(db->Delete(INT64_MIN, INT64_MAX, {Eq("i", "0")}));
  SeriesMap got = QueryAll(*db);
  EXPECT_EQ(got.count(Series(0).ToString()), 0u) << "a fully deleted series is not returned";
  EXPECT_EQ(got[Series(1).ToString()].size(), 10u);
  SeriesMap later = AppendRange(*db, 2, 10 * kMinute, 12 * kMinute, kMinute);
  got = QueryAll(*db);
  EXPECT_EQ(got[Series(0).ToString()], later[Series(0).ToString()]);
  EXPECT_EQ(got[Series(1).ToString()].size(), 12u);
  STRATA_ASSERT_OK(db->Close());
  auto stones = WalTombstones(tmp.Sub("wal"));
  ASSERT_EQ(stones.size(), 1u);
  EXPECT_EQ(stones[0].mint, 0);
  EXPECT_EQ(stones[0].maxt, 9 * kMinute);
}

TEST(DBDeleteTest, BlockDeleteWritesPrometheusTombstonesFileAndMeta) {
  testing::TempDir tmp;
  SeriesMap want;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  want = AppendRange(*db, 3, 0, 5 * kHour, kMinute);
  STRATA_ASSERT_OK(db->Compact());
  ASSERT_EQ(db->Blocks().size(), 1u);  // [0, 2h); the head keeps [2h, 5h)
  const std::string bdir = db->Blocks()[0]->dir();
  const auto refs = BlockRefs(*db->Blocks()[0]);
  auto before = db->Blocks()[0]->NewQuerier(INT64_MIN, INT64_MAX);
  ASSERT_TRUE(before.ok());

  // [1h, 3h] overlaps the block and the head.
  STRATA_ASSERT_OK(db->Delete(1 * kHour, 3 * kHour, {Eq("job", "a")}));
  want = Without(want, 1 * kHour, 3 * kHour, IsJobA);
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));

  // The file: magic, version 1, per interval uvarint ref + varint mint + varint maxt, CRC32C
  // of the entries. In the block, the interval is clamped to the series' last chunk end.
  std::map<model::SeriesRef, std::pair<int64_t, int64_t>> entries;
  for (int i : {0, 2}) entries[refs.at(Series(i).ToString())] = {1 * kHour, 2 * kHour - kMinute};
  std::string body;
  for (const auto& [ref, iv] : entries) {
    GoUvarint(&body, ref);
    GoVarint(&body, iv.first);
    GoVarint(&body, iv.second);
  }
  std::string want_file("\x01\x30\xba\x30\x01", 5);
  want_file += body;
  const uint32_t crc = Crc32cBitwise(body);
  for (int s = 24; s >= 0; s -= 8) want_file.push_back(static_cast<char>(crc >> s));
  ASSERT_EQ(Crc32cBitwise("123456789"), 0xE3069283u);
  EXPECT_EQ(ReadFile(bdir + "/tombstones"), want_file);
  EXPECT_THAT(ReadFile(bdir + "/meta.json"), ::testing::HasSubstr("\"numTombstones\": 2"));
  EXPECT_FALSE(std::filesystem::exists(bdir + "/tombstones.tmp"));
  EXPECT_EQ(db->Blocks()[0]->tombstones().NumIntervals(), 2u);

  // A querier opened before the delete keeps its view of the block (its Block object is
  // unchanged), as Prometheus's block queriers keep the tombstone reader they started with.
  {
    auto ss = (*before)->Select({Eq("i", "0")});
    size_t n = 0;
    while (ss->Next()) {
      auto it = ss->At().Iterator();
      while (it->Next()) ++n;
    }
    EXPECT_EQ(n, 120u) << "block samples seen by the old querier";
  }

  // Deleting again merges intervals (Intervals.Add) instead of appending.
  STRATA_ASSERT_OK(db->Delete(30 * kMinute, 1 * kHour - 1, {Eq("job", "a")}));
  want = Without(want, 30 * kMinute, 1 * kHour - 1, IsJobA);
  EXPECT_EQ(db->Blocks()[0]->tombstones().Get(refs.at(Series(0).ToString())),
            (block::Intervals{{30 * kMinute, 2 * kHour - kMinute}}));
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
  STRATA_ASSERT_OK(db->Close());
  STRATA_ASSERT_OK_AND_ASSIGN(auto re, DB::Open(tmp.path(), dbtest::Manual()));
  EXPECT_TRUE(SameSamples(QueryAll(*re), want));
}

TEST(DBDeleteTest, DeletedHeadSamplesDoNotReachTheBlock) {
  testing::TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  SeriesMap want = AppendRange(*db, 3, 0, 5 * kHour, kMinute);
  STRATA_ASSERT_OK(db->Delete(10 * kMinute, 20 * kMinute, {Eq("i", "1")}));
  STRATA_ASSERT_OK(db->Delete(INT64_MIN, INT64_MAX, {Eq("i", "2")}));  // whole series
  want = Without(want, 10 * kMinute, 20 * kMinute,
                 [](const std::string& k) { return k == Series(1).ToString(); });
  want.erase(Series(2).ToString());
  STRATA_ASSERT_OK(db->Compact());
  ASSERT_EQ(db->Blocks().size(), 1u);
  const auto& b = *db->Blocks()[0];
  // The block itself holds no deleted sample and has no tombstones.
  EXPECT_TRUE(b.tombstones().empty());
  EXPECT_EQ(b.meta().stats.num_series, 2u);
  EXPECT_EQ(b.meta().stats.num_samples, 120u + 120u - 11u);
  SeriesMap in_block = QueryAll(*db->Blocks()[0]);
  EXPECT_TRUE(SameSamples(
      in_block, Without(want, 2 * kHour, INT64_MAX, [](const std::string&) { return true; })));
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
  // After truncation the head keeps only the tombstone of series 2 reaching past 2h.
  EXPECT_EQ(db->head().TombstonesSnapshot().NumIntervals(), 1u);
  STRATA_ASSERT_OK(db->Close());
  STRATA_ASSERT_OK_AND_ASSIGN(auto re, DB::Open(tmp.path(), dbtest::Manual()));
  EXPECT_TRUE(SameSamples(QueryAll(*re), want));
}

TEST(DBDeleteTest, CheckpointKeepsTombstonesOfLiveSeries) {
  testing::TempDir tmp;
  DBOptions opts;
  opts.wal_segment_size = 32 * 1024;  // many segments, so a checkpoint covers the record
  opts.wal_sync = wal::SyncPolicy::kNone;
  constexpr int64_t kStep = 5000;
  const int64_t deleted_to = 130 * kMinute - kStep;  // clamped to the series' newest sample
  SeriesMap want;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(opts)));
    want = AppendRange(*db, 3, 0, 130 * kMinute, kStep);
    // Reaches past 2h, where the head is truncated below, so the checkpoint must keep it.
    STRATA_ASSERT_OK(db->Delete(1 * kHour, 3 * kHour, {Eq("i", "0")}));
    SeriesMap more = AppendRange(*db, 3, 130 * kMinute, 270 * kMinute, kStep);
    for (auto& [k, v] : more) want[k].insert(want[k].end(), v.begin(), v.end());
    want = Without(want, 1 * kHour, deleted_to,
                   [](const std::string& k) { return k == Series(0).ToString(); });
    STRATA_ASSERT_OK(db->Compact());
    ASSERT_EQ(db->Blocks().size(), 1u);
    EXPECT_TRUE(SameSamples(QueryAll(*db), want));
    STRATA_ASSERT_OK(db->Close());
  }
  // The segment holding the record is gone; the checkpoint carries the tombstone.
  STRATA_ASSERT_OK_AND_ASSIGN(auto cp,
                              wal::LastCheckpoint(*base::DefaultFileSystem(), tmp.Sub("wal")));
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("wal/00000000")));
  auto stones = WalTombstones(tmp.Sub("wal"));
  ASSERT_EQ(stones.size(), 1u) << cp.path;
  EXPECT_EQ(stones[0].mint, 1 * kHour);
  EXPECT_EQ(stones[0].maxt, deleted_to);
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(opts)));
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
}

TEST(DBDeleteTest, CleanTombstonesRewritesBlocksAsPrometheus) {
  testing::TempDir tmp;
  DBOptions opts;
  opts.max_block_duration = 2 * kHour;  // no leveled merging: two 2h blocks stay apart
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(opts)));
  SeriesMap want = AppendRange(*db, 3, 0, 7 * kHour, kMinute);
  STRATA_ASSERT_OK(db->Compact());
  ASSERT_EQ(db->Blocks().size(), 2u);
  const block::BlockMeta first = db->Blocks()[0]->meta();
  const block::BlockMeta second = db->Blocks()[1]->meta();
  // All of the first block, part of the second block's job="a" series. (Deleting the newest
  // block entirely would lower the WAL replay floor at the next Open and let WAL samples of
  // its range come back, as in Prometheus, whose head.Init takes the floor from the blocks.)
  STRATA_ASSERT_OK(db->Delete(0, 2 * kHour - 1, {Eq("__name__", "m")}));
  STRATA_ASSERT_OK(db->Delete(150 * kMinute, 160 * kMinute, {Eq("job", "a")}));
  want = Without(want, 0, 2 * kHour - 1, [](const std::string&) { return true; });
  want = Without(want, 150 * kMinute, 160 * kMinute, IsJobA);
  // The chunk of an untouched series (job="b") is copied verbatim.
  auto chunk_of = [](const block::Block& b, const model::Labels& lset) {
    auto refs = BlockRefs(b);
    model::Labels l;
    std::vector<index::ChunkMeta> chks;
    EXPECT_TRUE(b.index().Series(refs.at(lset.ToString()), &l, &chks).ok());
    EXPECT_EQ(chks.size(), 1u);
    auto c = b.chunks().Chunk(chks[0].ref);
    EXPECT_TRUE(c.ok());
    return std::string(c->data);
  };
  const std::string untouched = chunk_of(*db->Blocks()[1], Series(1));

  STRATA_ASSERT_OK(db->CleanTombstones());
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
  // The second block is replaced by one with the same range, level 1, its own ULID as
  // source and the old block as parent (2.42's LeveledCompactor.Write with a parent); the
  // first, left empty, is deleted without replacement.
  ASSERT_EQ(db->Blocks().size(), 1u);
  const auto& nb = *db->Blocks()[0];
  EXPECT_NE(nb.meta().ulid, second.ulid);
  EXPECT_EQ(nb.meta().min_time, second.min_time);
  EXPECT_EQ(nb.meta().max_time, second.max_time);
  EXPECT_EQ(nb.meta().compaction.level, 1);
  EXPECT_THAT(nb.meta().compaction.sources, ElementsAre(nb.meta().ulid));
  EXPECT_THAT(nb.meta().compaction.parents,
              ElementsAre(block::BlockDesc{second.ulid, second.min_time, second.max_time}));
  EXPECT_TRUE(nb.tombstones().empty());
  EXPECT_EQ(ReadFile(nb.dir() + "/tombstones"), std::string("\x01\x30\xba\x30\x01\0\0\0\0", 9));
  EXPECT_EQ(nb.meta().stats.num_samples, 3u * 120u - 2u * 11u);
  EXPECT_EQ(chunk_of(nb, Series(1)), untouched);
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub(first.ulid.ToString())));
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub(second.ulid.ToString())));
  // Nothing left to clean: a second call changes nothing.
  STRATA_ASSERT_OK(db->CleanTombstones());
  ASSERT_EQ(db->Blocks().size(), 1u);
  EXPECT_EQ(db->Blocks()[0]->meta().ulid, nb.meta().ulid);
  STRATA_ASSERT_OK(db->Close());
  STRATA_ASSERT_OK_AND_ASSIGN(auto re, DB::Open(tmp.path(), dbtest::Manual(opts)));
  EXPECT_TRUE(SameSamples(QueryAll(*re), want));
}

TEST(DBDeleteTest, DeletesRunConcurrentlyWithAppendsAndQueries) {
  // Deletes, commits and queries interleave freely; deleted samples never show up again and
  // the other series are complete. (Run under the sanitizer builds for memory safety.)
  testing::TempDir tmp;
  DBOptions opts;
  opts.wal_sync = wal::SyncPolicy::kNone;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(opts)));
  constexpr int kCommits = 1500;
  std::atomic<int64_t> appended_to{-1};
  std::thread writer([&] {
    for (int c = 0; c < kCommits; ++c) {
      auto app = db->NewAppender();
      for (int i = 0; i < 3; ++i) ASSERT_TRUE(app->Append(0, Series(i), c * 1000, c + i).ok());
      ASSERT_TRUE(app->Commit().ok());
      appended_to.store(c * 1000);
    }
  });
  std::vector<std::pair<int64_t, int64_t>> deleted;  // closed ranges deleted from series 1
  for (int round = 0; appended_to.load() < (kCommits - 1) * 1000; ++round) {
    const int64_t hi = appended_to.load();
    if (hi < 0) continue;
    const int64_t lo = std::max<int64_t>(0, hi - 5000);
    ASSERT_TRUE(db->Delete(lo, hi, {Eq("i", "1")}).ok());
    deleted.push_back({lo, hi});
    SeriesMap got = QueryAll(*db);
    for (const auto& s : got[Series(1).ToString()]) {
      for (const auto& [a, b] : deleted) ASSERT_FALSE(s.t >= a && s.t <= b) << s.t;
    }
  }
  writer.join();
  SeriesMap got = QueryAll(*db);
  EXPECT_EQ(got[Series(0).ToString()].size(), static_cast<size_t>(kCommits));
  EXPECT_EQ(got[Series(2).ToString()].size(), static_cast<size_t>(kCommits));
  for (const auto& s : got[Series(1).ToString()]) {
    for (const auto& [a, b] : deleted) ASSERT_FALSE(s.t >= a && s.t <= b) << s.t;
  }
  EXPECT_FALSE(deleted.empty());
}

TEST(DBDeleteTest, ReadOnlyAndClosedDBsRefuseDeletes) {
  testing::TempDir tmp;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
    AppendRange(*db, 1, 0, 10 * kMinute, kMinute);
    STRATA_ASSERT_OK(db->Close());
    EXPECT_THAT(db->Delete(0, 1, {Eq("i", "0")}),
                StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
    EXPECT_THAT(db->CleanTombstones(),
                StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  }
  DBOptions ro;
  ro.read_only = true;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(ro)));
  EXPECT_THAT(db->Delete(0, 1, {Eq("i", "0")}),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  return out;
}

// promtool 2.42's dump line for a sample: `{a="x", b="y"} <value %g> <t>`.
std::vector<std::string> DumpLines(const SeriesMap& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) {
    std::string spaced;
    for (size_t i = 0; i < k.size(); ++i) {
      spaced += k[i];
      if (k[i] == ',' && (i + 1 >= k.size() || k[i + 1] != ' ')) spaced += ' ';
    }
    for (const auto& s : v) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%g", s.v);
      out.push_back(spaced + " " + buf + " " + std::to_string(s.t));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Lines(const std::string& out) {
  std::vector<std::string> got;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    if (nl > pos) got.push_back(out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::sort(got.begin(), got.end());
  return got;
}

TEST(DBDeleteTest, PromtoolDumpOmitsSamplesDeletedInBlocksAndHead) {
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  testing::TempDir tmp;
  SeriesMap want;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
    want = AppendRange(*db, 3, 0, 5 * kHour, kMinute);
    STRATA_ASSERT_OK(db->Compact());
    ASSERT_EQ(db->Blocks().size(), 1u);
    // Block tombstones (the block is [0, 2h)) and a head tombstone in the WAL.
    STRATA_ASSERT_OK(db->Delete(1 * kHour, 3 * kHour, {Eq("job", "a")}));
    STRATA_ASSERT_OK(db->Delete(4 * kHour, 4 * kHour + 5 * kMinute, {Eq("i", "1")}));
    STRATA_ASSERT_OK(db->Close());
  }
  want = Without(want, 1 * kHour, 3 * kHour, IsJobA);
  want = Without(want, 4 * kHour, 4 * kHour + 5 * kMinute,
                 [](const std::string& k) { return k == Series(1).ToString(); });
  // promtool reads the block with its tombstones file and replays the WAL, tombstones
  // record included.
  const std::vector<std::string> got =
      Lines(RunCommand("/usr/bin/promtool tsdb dump " + tmp.path() + " 2>/dev/null"));
  const std::vector<std::string> expect = DumpLines(want);
  ASSERT_EQ(got.size(), expect.size());
  EXPECT_EQ(got, expect);
}

// Bytes size retention counts: the WAL directory and, per block, meta.json + index + chunks +
// tombstones (Prometheus 2.42's Head.Size and Block.Size).
uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

TEST(DBRetentionTest, SizeRetentionDeletesOldestBlocksCountingTheWal) {
  testing::TempDir tmp;
  DBOptions opts;
  opts.max_block_duration = 2 * kHour;  // keep 2h blocks apart
  opts.wal_sync = wal::SyncPolicy::kNone;
  std::vector<std::string> dirs;  // oldest first
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(opts)));
    AppendRange(*db, 4, 0, 9 * kHour, 30000);
    STRATA_ASSERT_OK(db->Compact());
    ASSERT_EQ(db->Blocks().size(), 3u);
    for (const auto& b : db->Blocks()) dirs.push_back(b->dir());
    STRATA_ASSERT_OK(db->Close());
  }
  std::vector<uint64_t> sizes;
  for (const auto& d : dirs) {
    uint64_t n = 0;
    for (const char* f : {"meta.json", "index", "tombstones"}) {
      n += std::filesystem::file_size(d + "/" + f);
    }
    n += DirBytes(d + "/chunks");
    sizes.push_back(n);
    EXPECT_EQ(n, DirBytes(d));  // nothing else in a block directory
  }
  // The limit fits the WAL and the two newest blocks but not the oldest. (Open may start a
  // new WAL segment before retention runs; the margin of half a block absorbs it.)
  DBOptions limited = opts;
  const uint64_t wal_now = DirBytes(tmp.Sub("wal"));
  limited.retention_bytes = static_cast<int64_t>(wal_now + sizes[2] + sizes[1] + sizes[0] / 2);
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(limited)));
    const uint64_t wal_after = DirBytes(tmp.Sub("wal"));
    ASSERT_LE(wal_after - wal_now, sizes[0] / 2) << "WAL growth at Open changed the outcome";
    ASSERT_EQ(db->Blocks().size(), 2u);
    EXPECT_EQ(db->Blocks()[0]->dir(), dirs[1]);
    EXPECT_EQ(db->Blocks()[1]->dir(), dirs[2]);
    EXPECT_FALSE(std::filesystem::exists(dirs[0]));
    EXPECT_EQ(db->Stats().blocks_deleted, 1u);
    STRATA_ASSERT_OK(db->Close());
  }
  // A limit below WAL + newest block deletes every block, the newest too (upstream has no
  // "keep the newest" exception for size).
  limited.retention_bytes = static_cast<int64_t>(DirBytes(tmp.Sub("wal")) + sizes[2] - 1);
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(limited)));
  EXPECT_TRUE(db->Blocks().empty());
}

TEST(DBRetentionTest, SizeRetentionRunsAfterCompaction) {
  testing::TempDir tmp;
  DBOptions opts;
  opts.max_block_duration = 2 * kHour;
  opts.retention_bytes = 1;  // smaller than any block: every block goes as soon as cut
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(opts)));
  SeriesMap want = AppendRange(*db, 2, 0, 5 * kHour, kMinute);
  STRATA_ASSERT_OK(db->Compact());
  EXPECT_TRUE(db->Blocks().empty());
  EXPECT_EQ(db->Stats().blocks_created, 1u);
  EXPECT_EQ(db->Stats().blocks_deleted, 1u);
  // The head keeps serving what was not persisted.
  SeriesMap got = QueryAll(*db);
  EXPECT_EQ(got[Series(0).ToString()].front().t, 2 * kHour);
}

}  // namespace
}  // namespace strata::tsdb
