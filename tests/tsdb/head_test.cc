#include "strata/tsdb/head.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "strata/base/status.h"
#include "strata/chunkenc/xor.h"
#include "strata/tsdb/errors.h"
#include "testing/status_matchers.h"

namespace strata::tsdb {
namespace {

using model::Labels;
using model::Matcher;
using model::MatchType;
using model::Sample;
using model::SeriesRef;

Matcher M(MatchType t, std::string_view n, std::string_view v) {
  auto m = Matcher::Create(t, n, v);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

// All series matching `ms` in [mint, maxt], as (labels, samples), in Select order.
std::vector<std::pair<Labels, std::vector<Sample>>> Query(Head& h, int64_t mint, int64_t maxt,
                                                          const std::vector<Matcher>& ms) {
  std::vector<std::pair<Labels, std::vector<Sample>>> out;
  auto q = h.NewQuerier(mint, maxt);
  EXPECT_TRUE(q.ok());
  auto set = (*q)->Select(ms);
  while (set->Next()) {
    auto it = set->At().Iterator();
    std::vector<Sample> samples;
    while (it->Next()) samples.push_back(it->At());
    EXPECT_TRUE(it->status().ok()) << it->status();
    out.emplace_back(set->At().labels(), std::move(samples));
  }
  EXPECT_TRUE(set->status().ok()) << set->status();
  return out;
}

std::vector<Sample> QueryOne(Head& h, const Labels& l, int64_t mint = INT64_MIN,
                             int64_t maxt = INT64_MAX) {
  std::vector<Matcher> ms;
  for (const auto& x : l) ms.push_back(M(MatchType::kEqual, x.name, x.value));
  auto r = Query(h, mint, maxt, ms);
  for (auto& [lset, s] : r) {
    if (lset == l) return s;
  }
  return {};
}

// Chunk mint/maxt/sample counts of every series, via ForEachSeries.
struct ChunkInfo {
  int64_t mint, maxt;
  int n;
  friend bool operator==(const ChunkInfo&, const ChunkInfo&) = default;
};
std::vector<ChunkInfo> Chunks(const Head& h, const Labels& l) {
  std::vector<ChunkInfo> out;
  h.ForEachSeries([&](SeriesRef, const Labels& lset, std::span<const HeadChunkView> cs) {
    if (lset != l) return;
    for (const auto& c : cs) {
      chunkenc::XorIterator it(c.bytes);
      out.push_back({c.mint, c.maxt, it.num_samples()});
    }
  });
  return out;
}

const Labels kA{{"__name__", "up"}, {"job", "a"}};
const Labels kB{{"__name__", "up"}, {"job", "b"}};
const Labels kC{{"__name__", "up"}, {"job", "c"}};

TEST(HeadAppenderTest, CommitMakesSamplesVisibleAndRollbackDiscards) {
  Head h;
  auto app = h.NewAppender();
  STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef ref, app->Append(0, kA, 1000, 1));
  EXPECT_EQ(ref, 1u);
  STRATA_ASSERT_OK(app->Append(ref, Labels(), 2000, 2));
  EXPECT_TRUE(QueryOne(h, kA).empty());  // not visible before commit
  STRATA_ASSERT_OK(app->Commit());
  EXPECT_EQ(QueryOne(h, kA), (std::vector<Sample>{{1000, 1}, {2000, 2}}));
  EXPECT_EQ(app->Commit().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(app->Append(ref, kA, 3000, 3).status().code(),
            absl::StatusCode::kFailedPrecondition);

  auto app2 = h.NewAppender();
  STRATA_ASSERT_OK(app2->Append(ref, kA, 3000, 3));
  STRATA_ASSERT_OK(app2->Rollback());
  EXPECT_EQ(app2->Rollback().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(QueryOne(h, kA).size(), 2u);
  EXPECT_EQ(h.MinTime(), 1000);
  EXPECT_EQ(h.MaxTime(), 2000);
}

TEST(HeadAppenderTest, ErrorsFollowPrometheusRules) {
  Head h;
  {
    auto app = h.NewAppender();
    STRATA_ASSERT_OK(app->Append(0, kA, 10'000, 1));
    STRATA_ASSERT_OK(app->Commit());
  }
  struct Case {
    int64_t t;
    double v;
    const char* want;  // "ok", "ooo", "dup", "bounds"
  };
  // Head max time 10s, chunk range 2h: minimum valid time is 10s - 1h.
  const std::vector<Case> cases = {
      {9'999, 5, "ooo"},                 // older than the newest sample
      {10'000, 2, "dup"},                // same timestamp, different value
      {10'000, 1, "ok"},                 // exact duplicate: accepted, dropped at commit
      {10'001, 3, "ok"},
      {10'000 - 3'600'000 - 1, 1, "bounds"},  // before max - chunk_range/2
  };
  for (const Case& c : cases) {
    auto app = h.NewAppender();
    auto r = app->Append(1, kA, c.t, c.v);
    const std::string want = c.want;
    if (want == "ok") {
      EXPECT_TRUE(r.ok()) << c.t << ": " << r.status();
    } else if (want == "ooo") {
      EXPECT_TRUE(IsOutOfOrderSample(r.status())) << c.t << ": " << r.status();
      EXPECT_FALSE(IsDuplicateSample(r.status()));
    } else if (want == "dup") {
      EXPECT_TRUE(IsDuplicateSample(r.status())) << c.t << ": " << r.status();
    } else {
      EXPECT_TRUE(IsOutOfBounds(r.status())) << c.t << ": " << r.status();
      EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange);
    }
    STRATA_ASSERT_OK(app->Commit());
  }
  EXPECT_EQ(QueryOne(h, kA), (std::vector<Sample>{{10'000, 1}, {10'001, 3}}));
  HeadStats st = h.Stats();
  EXPECT_EQ(st.out_of_order_samples, 1u);
  EXPECT_EQ(st.duplicate_samples, 1u);
  EXPECT_EQ(st.out_of_bounds_samples, 1u);
  EXPECT_EQ(st.samples_appended, 2u);
}

TEST(HeadErrorsTest, TagsSurviveAnnotateAndAreDistinct) {
  const absl::Status ooo = base::Annotate(OutOfOrderSampleError("{a=\"b\"}", 5), "scrape");
  EXPECT_TRUE(IsOutOfOrderSample(ooo));
  EXPECT_FALSE(IsDuplicateSample(ooo));
  EXPECT_FALSE(IsOutOfBounds(ooo));
  EXPECT_TRUE(absl::StartsWith(ooo.message(), "scrape: out of order sample"));
  EXPECT_TRUE(IsDuplicateSample(DuplicateSampleError("x", 1)));
  EXPECT_TRUE(IsOutOfBounds(OutOfBoundsError("x", 1, 2)));
  // The same text without the tag is not recognised.
  EXPECT_FALSE(IsOutOfOrderSample(absl::InvalidArgumentError("out of order sample")));
  EXPECT_FALSE(IsOutOfOrderSample(absl::OkStatus()));
}

TEST(HeadAppenderTest, EmptyLabelsAndUnknownRefs) {
  Head h;
  auto app = h.NewAppender();
  EXPECT_EQ(app->Append(0, Labels(), 1, 1).status().code(), absl::StatusCode::kInvalidArgument);
  // An unknown ref falls back to the labels.
  STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef ref, app->Append(999, kB, 1, 1));
  EXPECT_EQ(ref, 1u);
  STRATA_ASSERT_OK(app->Commit());
}

TEST(HeadAppenderTest, OutOfOrderWithinOneBatchIsDroppedAtCommit) {
  Head h;
  auto app = h.NewAppender();
  STRATA_ASSERT_OK(app->Append(0, kA, 2000, 2));
  // Checked against committed state only, so accepted here, then dropped at commit.
  STRATA_ASSERT_OK(app->Append(0, kA, 1000, 1));
  STRATA_ASSERT_OK(app->Commit());
  EXPECT_EQ(QueryOne(h, kA), (std::vector<Sample>{{2000, 2}}));
  EXPECT_EQ(h.Stats().out_of_order_samples, 1u);
}

TEST(HeadAppenderTest, StaleMarkersAreStoredAsSamples) {
  Head h;
  auto app = h.NewAppender();
  STRATA_ASSERT_OK(app->Append(0, kA, 1000, 1));
  STRATA_ASSERT_OK(app->Append(0, kA, 2000, model::kStaleNaN));
  STRATA_ASSERT_OK(app->Commit());
  auto s = QueryOne(h, kA);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_TRUE(model::IsStaleNaN(s[1].v));
}

// Samples every 15s for 2h starting at 0 with chunk range 2h. Expected boundaries from the
// rules (format doc section 5): first chunk's nextAt = 7_200_000. At 30 samples (maxt =
// 435_000): n = 7_200_000 / ((435_000 + 1) * 4) = 4, so nextAt = 1_800_000. Second chunk
// starts at 1_800_000 with nextAt 7_200_000; at 30 samples maxt = 2_235_000:
// n = 5_400_000 / (435_001 * 4) = 3, nextAt = 1_800_000 + 1_800_000 = 3_600_000. Likewise
// the third is [3_600_000, 5_400_000) (n = 2) and the fourth runs to the end: 120 each.
TEST(HeadChunkTest, CutsLikePrometheus242) {
  Head h;
  auto app = h.NewAppender();
  for (int64_t t = 0; t < 7'200'000; t += 15'000) {
    STRATA_ASSERT_OK(app->Append(0, kA, t, static_cast<double>(t)));
  }
  STRATA_ASSERT_OK(app->Commit());
  EXPECT_EQ(Chunks(h, kA), (std::vector<ChunkInfo>{{0, 1'785'000, 120},
                                                   {1'800'000, 3'585'000, 120},
                                                   {3'600'000, 5'385'000, 120},
                                                   {5'400'000, 7'185'000, 120}}));
  // A sample in the next 2h window cuts a new chunk.
  auto app2 = h.NewAppender();
  STRATA_ASSERT_OK(app2->Append(1, kA, 7'200'000, 1));
  STRATA_ASSERT_OK(app2->Commit());
  EXPECT_EQ(Chunks(h, kA).back(), (ChunkInfo{7'200'000, 7'200'000, 1}));
}

// At 1s intervals the window estimate keeps nextAt at the window end (n = 7_200_000 /
// (30_000 * 4) = 60 -> nextAt = 120_000), and samples beyond 240 force a cut.
TEST(HeadChunkTest, ForcedCutAt240Samples) {
  HeadOptions o;
  Head h(o);
  auto app = h.NewAppender();
  // First 30 samples 1 min apart fix nextAt = 0 + 7_200_000 / n with
  // n = 7_200_000 / ((1_740_000 + 1) * 4) = 1 -> unchanged (window end). Then samples 1ms
  // apart: the 241st sample must start a new chunk.
  int64_t t = 0;
  for (int i = 0; i < 30; ++i, t += 60'000) STRATA_ASSERT_OK(app->Append(0, kA, t, 1));
  for (int i = 30; i < 245; ++i, t += 1) STRATA_ASSERT_OK(app->Append(0, kA, t, 1));
  STRATA_ASSERT_OK(app->Commit());
  auto cs = Chunks(h, kA);
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].n, 240);
  EXPECT_EQ(cs[1].n, 5);
}

TEST(HeadChunkTest, BytesMatchAFreshXorEncodingOfTheSamePoints) {
  Head h;
  auto app = h.NewAppender();
  std::vector<Sample> in;
  std::mt19937_64 rng(5);
  for (int64_t t = 0; t < 1'800'000; t += 15'000) {
    in.push_back({t, static_cast<double>(rng() % 1000)});
    STRATA_ASSERT_OK(app->Append(0, kA, t, in.back().v));
  }
  STRATA_ASSERT_OK(app->Commit());
  std::vector<std::string> got;
  h.ForEachSeries([&](SeriesRef, const Labels&, std::span<const HeadChunkView> cs) {
    for (const auto& c : cs) got.emplace_back(c.bytes);
  });
  ASSERT_EQ(got.size(), 1u);
  std::string want;
  chunkenc::XorAppender a(&want, {.prometheus_2_42 = true});
  for (const auto& s : in) a.Append(s.t, s.v);
  EXPECT_EQ(got[0], want);
}

TEST(HeadQuerierTest, SelectSortsByLabelsAndClipsToRange) {
  Head h;
  auto app = h.NewAppender();
  for (int64_t t = 0; t < 100'000; t += 10'000) {
    STRATA_ASSERT_OK(app->Append(0, kB, t, 2));
    STRATA_ASSERT_OK(app->Append(0, kA, t, 1));
    STRATA_ASSERT_OK(app->Append(0, Labels{{"__name__", "other"}}, t, 3));
  }
  STRATA_ASSERT_OK(app->Commit());
  auto r = Query(h, 25'000, 55'000, {M(MatchType::kEqual, "__name__", "up")});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].first, kA);
  EXPECT_EQ(r[1].first, kB);
  EXPECT_EQ(r[0].second, (std::vector<Sample>{{30'000, 1}, {40'000, 1}, {50'000, 1}}));
  // Series with no samples in range are not returned.
  EXPECT_TRUE(Query(h, 200'000, 300'000, {M(MatchType::kEqual, "__name__", "up")}).empty());
  // Negative matcher over everything.
  auto r2 = Query(h, 0, 100'000, {M(MatchType::kNotEqual, "job", "a")});
  ASSERT_EQ(r2.size(), 2u);
  EXPECT_EQ(r2[0].first, (Labels{{"__name__", "other"}}));
  EXPECT_EQ(r2[1].first, kB);
}

TEST(HeadQuerierTest, SeekAcrossChunks) {
  Head h;
  auto app = h.NewAppender();
  for (int64_t t = 0; t < 7'200'000; t += 15'000) STRATA_ASSERT_OK(app->Append(0, kA, t, t));
  STRATA_ASSERT_OK(app->Commit());
  auto q = h.NewQuerier(100'000, 6'000'000);
  ASSERT_TRUE(q.ok());
  auto set = (*q)->Select({M(MatchType::kEqual, "job", "a")});
  ASSERT_TRUE(set->Next());
  auto it = set->At().Iterator();
  ASSERT_TRUE(it->Seek(0));
  EXPECT_EQ(it->At().t, 105'000);  // clipped to mint
  ASSERT_TRUE(it->Seek(3'600'001));
  EXPECT_EQ(it->At().t, 3'615'000);
  ASSERT_TRUE(it->Seek(10));  // never moves back
  EXPECT_EQ(it->At().t, 3'615'000);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At().t, 3'630'000);
  ASSERT_TRUE(it->Seek(6'000'000));
  EXPECT_EQ(it->At().t, 6'000'000);
  EXPECT_FALSE(it->Next());  // clipped to maxt
  EXPECT_FALSE(it->Seek(6'500'000));
  STRATA_EXPECT_OK(it->status());
}

TEST(HeadQuerierTest, LabelNamesAndValues) {
  Head h;
  auto app = h.NewAppender();
  STRATA_ASSERT_OK(app->Append(0, Labels{{"__name__", "up"}, {"job", "a"}, {"x", "1"}}, 10, 1));
  STRATA_ASSERT_OK(app->Append(0, Labels{{"__name__", "up"}, {"job", "b"}}, 10, 1));
  STRATA_ASSERT_OK(app->Append(0, Labels{{"__name__", "down"}, {"job", "c"}, {"y", "2"}}, 10, 1));
  STRATA_ASSERT_OK(app->Commit());
  auto q = h.NewQuerier(0, 100);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*(*q)->LabelNames(), (std::vector<std::string>{"__name__", "job", "x", "y"}));
  EXPECT_EQ(*(*q)->LabelNames({M(MatchType::kEqual, "__name__", "up")}),
            (std::vector<std::string>{"__name__", "job", "x"}));
  EXPECT_EQ(*(*q)->LabelValues("job"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*(*q)->LabelValues("job", {M(MatchType::kEqual, "__name__", "up")}),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*(*q)->LabelValues("x", {M(MatchType::kEqual, "__name__", "up")}),
            (std::vector<std::string>{"1"}));
  // A querier range outside the head sees nothing.
  auto q2 = h.NewQuerier(1000, 2000);
  ASSERT_TRUE(q2.ok());
  EXPECT_TRUE((*q2)->LabelNames()->empty());
  EXPECT_TRUE((*q2)->LabelValues("job")->empty());
}

TEST(HeadTruncateTest, DropsOldChunksAndEmptySeries) {
  Head h;
  auto app = h.NewAppender();
  // kA spans 4 chunks over 2h; kB has one sample at t=0.
  for (int64_t t = 0; t < 7'200'000; t += 15'000) STRATA_ASSERT_OK(app->Append(0, kA, t, 1));
  STRATA_ASSERT_OK(app->Append(0, kB, 0, 1));
  STRATA_ASSERT_OK(app->Commit());
  EXPECT_EQ(h.Stats().num_series, 2u);
  EXPECT_EQ(h.Stats().num_chunks, 5u);

  STRATA_ASSERT_OK(h.Truncate(3'600'000));
  HeadStats st = h.Stats();
  EXPECT_EQ(st.num_series, 1u);
  EXPECT_EQ(st.series_removed, 1u);
  EXPECT_EQ(st.num_chunks, 2u);
  EXPECT_EQ(h.MinTime(), 3'600'000);
  auto s = QueryOne(h, kA);
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.front().t, 3'600'000);
  EXPECT_TRUE(QueryOne(h, kB).empty());
  auto q = h.NewQuerier(INT64_MIN, INT64_MAX);
  EXPECT_EQ(*(*q)->LabelValues("job"), (std::vector<std::string>{"a"}));
  // Samples before the truncation point are now out of bounds.
  auto app2 = h.NewAppender();
  EXPECT_TRUE(IsOutOfBounds(app2->Append(0, kB, 3'599'999, 1).status()));
  // A removed series comes back with a new ref.
  STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef ref, app2->Append(0, kB, 7'200'000, 1));
  EXPECT_EQ(ref, 3u);
  STRATA_ASSERT_OK(app2->Commit());
}

TEST(HeadTruncateTest, KeepsSeriesWithPendingSamples) {
  Head h;
  {
    auto app = h.NewAppender();
    STRATA_ASSERT_OK(app->Append(0, kA, 1000, 1));
    STRATA_ASSERT_OK(app->Commit());
  }
  auto app = h.NewAppender();
  STRATA_ASSERT_OK(app->Append(1, kA, 3000, 3));
  // kA's only chunk is before 2000, but 3000 is pending in an appender that is still open
  // (on this thread): Truncate waits for it, then leaves series removal to a later call.
  STRATA_ASSERT_OK(h.Truncate(2000));
  EXPECT_EQ(h.Stats().num_series, 1u);
  EXPECT_EQ(h.Stats().gc_deferred, 1u);
  STRATA_ASSERT_OK(app->Commit());
  EXPECT_EQ(QueryOne(h, kA), (std::vector<Sample>{{3000, 3}}));
  // With no appender open, the next call removes it once its data is before mint.
  STRATA_ASSERT_OK(h.Truncate(4000));
  EXPECT_EQ(h.Stats().series_removed, 1u);
  EXPECT_EQ(h.Stats().gc_deferred, 1u);
}

// An appender that starts while Truncate waits for earlier appenders pins the series it
// uses: Truncate then removes the other empty series but keeps those.
TEST(HeadTruncateTest, AppendersStartedDuringTruncatePinTheirSeries) {
  Head h;
  SeriesRef ra = 0;
  {
    auto app = h.NewAppender();
    STRATA_ASSERT_OK_AND_ASSIGN(ra, app->Append(0, kA, 1000, 1));
    STRATA_ASSERT_OK(app->Append(0, kB, 1000, 1));
    STRATA_ASSERT_OK(app->Append(0, kC, 1000, 1));
    STRATA_ASSERT_OK(app->Commit());
  }
  auto early = h.NewAppender();  // unpinned: the Truncate below waits for it
  STRATA_ASSERT_OK(early->Append(0, kB, 3000, 2));
  std::thread gc([&] { ASSERT_TRUE(h.Truncate(2000).ok()); });
  std::unique_ptr<storage::Appender> late;
  while (true) {
    late = h.NewAppender();
    STRATA_ASSERT_OK(late->Append(ra, Labels(), 3000, 3));
    if (h.Stats().pinned_appenders > 0) break;
    // Started before the Truncate did: unpinned. Try again.
    STRATA_ASSERT_OK(late->Rollback());
    ASSERT_EQ(h.Stats().gc_deferred, 0u) << "the Truncate stopped waiting";
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  STRATA_ASSERT_OK(early->Commit());  // lets the Truncate go on
  gc.join();
  HeadStats st = h.Stats();
  EXPECT_EQ(st.gc_deferred, 0u);
  EXPECT_EQ(st.series_removed, 1u);  // kC; kA is pinned by `late`, kB has 3000
  STRATA_ASSERT_OK(late->Commit());
  EXPECT_EQ(QueryOne(h, kA), (std::vector<Sample>{{3000, 3}}));
  // kB's chunk ends at 3000, after mint, so it stays whole.
  EXPECT_EQ(QueryOne(h, kB), (std::vector<Sample>{{1000, 1}, {3000, 2}}));
  EXPECT_TRUE(QueryOne(h, kC).empty());
}

// Series removed by GC release their refs for good: an appender holding such a ref (looked
// up without locks on the append path) gets "not found" even after the removed series'
// memory has been reused for a new series.
TEST(HeadTruncateTest, RemovedRefsStayDeadAfterTheirMemoryIsReused) {
  Head h;
  {
    auto app = h.NewAppender();
    STRATA_ASSERT_OK(app->Append(0, kA, 1000, 1));
    STRATA_ASSERT_OK(app->Commit());
  }
  // An appender that looked up ref 1 before GC, still open while GC runs.
  auto early = h.NewAppender();
  STRATA_ASSERT_OK(early->Append(1, Labels(), 1500, 1.5));
  STRATA_ASSERT_OK(early->Rollback());
  STRATA_ASSERT_OK(h.Truncate(2000));
  EXPECT_EQ(h.Stats().series_removed, 1u);
  {
    auto app = h.NewAppender();
    // kB takes the graveyard's object (or a fresh one); either way it gets ref 2.
    STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef b, app->Append(0, kB, 3000, 2));
    EXPECT_EQ(b, 2u);
    EXPECT_EQ(app->Append(1, Labels(), 3000, 1).status().code(),
              absl::StatusCode::kInvalidArgument);
    // With labels, the dead ref falls back to them and kA comes back as ref 3.
    STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef a, app->Append(1, kA, 3000, 3));
    EXPECT_EQ(a, 3u);
    STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef b2, app->Append(2, Labels(), 3001, 4));
    EXPECT_EQ(b2, 2u);
    STRATA_ASSERT_OK(app->Commit());
  }
  EXPECT_EQ(QueryOne(h, kA), (std::vector<Sample>{{3000, 3}}));
  EXPECT_EQ(QueryOne(h, kB), (std::vector<Sample>{{3000, 2}, {3001, 4}}));
  EXPECT_EQ(h.Stats().num_series, 2u);
}

// Series churn: once every ref of a 65,536-ref block of the lock-free ref table is removed,
// the block's memory goes back to the kernel; refs in it stay dead and later series work.
TEST(HeadTruncateTest, RefTableBlocksOfRemovedSeriesAreReleased) {
  Head h;
  constexpr int kSeries = 65536 + 100;  // refs 1..65636: block 0 (refs 1..65535) fills
  std::vector<SeriesRef> refs;
  {
    auto app = h.NewAppender();
    for (int i = 0; i < kSeries; ++i) {
      STRATA_ASSERT_OK_AND_ASSIGN(
          SeriesRef r, app->Append(0, Labels::FromPairs({{"__name__", "churn"},
                                                         {"i", std::to_string(i)}}),
                                   1000, i));
      refs.push_back(r);
    }
    STRATA_ASSERT_OK(app->Commit());
  }
  ASSERT_EQ(refs.back(), static_cast<SeriesRef>(kSeries));
  EXPECT_EQ(h.Stats().ref_table_blocks_released, 0u);
  STRATA_ASSERT_OK(h.Truncate(2000));
  EXPECT_EQ(h.Stats().series_removed, static_cast<uint64_t>(kSeries));
  EXPECT_EQ(h.Stats().ref_table_blocks_released, 1u);  // block 1 is not full yet
  {
    auto app = h.NewAppender();
    EXPECT_EQ(app->Append(refs[7], Labels(), 3000, 1).status().code(),
              absl::StatusCode::kInvalidArgument);
    STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef b, app->Append(0, kB, 3000, 2));
    EXPECT_EQ(b, static_cast<SeriesRef>(kSeries + 1));
    STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef b2, app->Append(b, Labels(), 3001, 3));
    EXPECT_EQ(b2, b);
    STRATA_ASSERT_OK(app->Commit());
  }
  EXPECT_EQ(QueryOne(h, kB), (std::vector<Sample>{{3000, 2}, {3001, 3}}));
}

// ForEachSeriesSorted visits every series once, in label order, with the same chunks as
// ForEachSeries, and runs the callback without head locks (it may append).
TEST(HeadTest, ForEachSeriesSortedVisitsInLabelOrderWithoutLocks) {
  Head h;
  std::vector<Labels> lsets;
  {
    auto app = h.NewAppender();
    for (int i = 50; i > 0; --i) {
      lsets.push_back(Labels::FromPairs({{"__name__", "m"}, {"i", std::to_string(i)}}));
      for (int64_t t = 0; t < 300; ++t) {
        STRATA_ASSERT_OK(app->Append(0, lsets.back(), t * 15000, static_cast<double>(t + i)));
      }
    }
    STRATA_ASSERT_OK(app->Commit());
  }
  using Seen = std::map<std::string, std::vector<std::tuple<int64_t, int64_t, std::string>>>;
  Seen plain, sorted;
  h.ForEachSeries([&](SeriesRef, const Labels& lset, std::span<const HeadChunkView> chunks) {
    for (const auto& c : chunks) plain[lset.ToString()].emplace_back(c.mint, c.maxt, c.bytes);
  });
  std::vector<Labels> order;
  h.ForEachSeriesSorted([&](SeriesRef ref, const Labels& lset,
                            std::span<const HeadChunkView> chunks) {
    order.push_back(lset);
    for (const auto& c : chunks) sorted[lset.ToString()].emplace_back(c.mint, c.maxt, c.bytes);
    // No lock is held: appending to the visited series itself must not deadlock.
    auto app = h.NewAppender();
    EXPECT_TRUE(app->Append(ref, Labels(), 300 * 15000, 1).ok());
    EXPECT_TRUE(app->Commit().ok());
  });
  std::sort(lsets.begin(), lsets.end());
  EXPECT_EQ(order, lsets);
  EXPECT_EQ(sorted, plain);
  EXPECT_GT(plain.begin()->second.size(), 1u);  // closed chunks and the open one
}

class RecordingSink final : public WalSink {
 public:
  absl::Status Log(std::span<const record::RefSeries> series,
                   std::span<const record::RefSample> samples) override {
    std::lock_guard<std::mutex> l(mu_);
    if (fail_) return absl::UnavailableError("disk full");
    series_.insert(series_.end(), series.begin(), series.end());
    samples_.insert(samples_.end(), samples.begin(), samples.end());
    return absl::OkStatus();
  }
  std::mutex mu_;
  bool fail_ = false;
  std::vector<record::RefSeries> series_;
  std::vector<record::RefSample> samples_;
};

TEST(HeadWalTest, CommitLogsSeriesBeforeSamplesAndReplayRestores) {
  RecordingSink sink;
  HeadOptions o;
  o.wal = &sink;
  Head h(o);
  auto app = h.NewAppender();
  STRATA_ASSERT_OK(app->Append(0, kA, 1000, 1));
  STRATA_ASSERT_OK(app->Append(0, kB, 1000, 2));
  STRATA_ASSERT_OK(app->Commit());
  auto app2 = h.NewAppender();
  STRATA_ASSERT_OK(app2->Append(1, kA, 2000, 3));
  STRATA_ASSERT_OK(app2->Commit());
  ASSERT_EQ(sink.series_.size(), 2u);  // logged once each
  ASSERT_EQ(sink.samples_.size(), 3u);

  Head r;
  STRATA_ASSERT_OK(r.ReplaySeries(sink.series_));
  STRATA_ASSERT_OK(r.ReplaySamples(sink.samples_));
  EXPECT_EQ(QueryOne(r, kA), (std::vector<Sample>{{1000, 1}, {2000, 3}}));
  EXPECT_EQ(QueryOne(r, kB), (std::vector<Sample>{{1000, 2}}));
  // New series continue after the replayed refs.
  auto app3 = r.NewAppender();
  STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef ref, app3->Append(0, Labels{{"n", "new"}}, 3000, 1));
  EXPECT_EQ(ref, 3u);
}

TEST(HeadWalTest, FailedLogMakesNothingVisible) {
  RecordingSink sink;
  HeadOptions o;
  o.wal = &sink;
  Head h(o);
  sink.fail_ = true;
  auto app = h.NewAppender();
  STRATA_ASSERT_OK(app->Append(0, kA, 1000, 1));
  absl::Status st = app->Commit();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(QueryOne(h, kA).empty());
  sink.fail_ = false;
  // The series record was never logged, so the next commit logs it.
  auto app2 = h.NewAppender();
  STRATA_ASSERT_OK(app2->Append(0, kA, 2000, 2));
  STRATA_ASSERT_OK(app2->Commit());
  ASSERT_EQ(sink.series_.size(), 1u);
  EXPECT_EQ(sink.series_[0].labels, kA);
}

TEST(HeadWalTest, ReplayDropsUnknownRefsAndMapsDuplicateSeries) {
  Head h;
  std::vector<record::RefSeries> series = {{1, kA}, {2, kB}, {5, kA}};
  STRATA_ASSERT_OK(h.ReplaySeries(series));
  std::vector<record::RefSample> samples = {{1, 10, 1}, {5, 20, 2}, {9, 30, 3}, {2, 5, 4}};
  STRATA_ASSERT_OK(h.ReplaySamples(samples));
  EXPECT_EQ(QueryOne(h, kA), (std::vector<Sample>{{10, 1}, {20, 2}}));
  EXPECT_EQ(h.replay_unknown_refs(), 1u);
  EXPECT_EQ(h.Stats().num_series, 2u);
}

// Several appender threads, querier threads and a GC thread at once; afterwards the head
// holds exactly what was committed. Run under ThreadSanitizer to check for races.
TEST(HeadConcurrencyTest, AppendersQueriersAndGc) {
  Head h;
  constexpr int kWriters = 3, kSeriesPer = 50, kRounds = 60;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&h, w] {
      std::vector<SeriesRef> refs(kSeriesPer, 0);
      for (int r = 0; r < kRounds; ++r) {
        auto app = h.NewAppender();
        for (int i = 0; i < kSeriesPer; ++i) {
          Labels l{{"__name__", "m"}, {"w", std::to_string(w)}, {"i", std::to_string(i)}};
          auto ref = app->Append(refs[i], l, 1'000'000 + r * 1000, r);
          ASSERT_TRUE(ref.ok()) << ref.status();
          refs[i] = *ref;
        }
        // Every third batch is rolled back.
        if (r % 3 == 2) {
          ASSERT_TRUE(app->Rollback().ok());
        } else {
          ASSERT_TRUE(app->Commit().ok());
        }
      }
    });
  }
  std::atomic<int> queries{0};
  for (int qn = 0; qn < 2; ++qn) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        auto q = h.NewQuerier(INT64_MIN, INT64_MAX);
        auto set = (*q)->Select({M(MatchType::kEqual, "__name__", "m")});
        while (set->Next()) {
          auto it = set->At().Iterator();
          int64_t last = INT64_MIN;
          int n = 0;
          while (it->Next()) {
            ASSERT_GT(it->At().t, last);
            last = it->At().t;
            ++n;
          }
          // Commits are all-or-nothing per batch, and every writer commits its series in
          // the same batches, so all series of one writer have equal counts; here just
          // check iteration is clean.
          ASSERT_TRUE(it->status().ok());
        }
        ASSERT_TRUE(set->status().ok());
        (void)(*q)->LabelValues("w");
        queries.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {
    // GC with a point before all data: exercises the scan without dropping anything.
    while (!stop.load()) ASSERT_TRUE(h.Truncate(0).ok());
  });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  stop.store(true);
  for (size_t i = kWriters; i < threads.size(); ++i) threads[i].join();

  auto r = Query(h, INT64_MIN, INT64_MAX, {M(MatchType::kEqual, "__name__", "m")});
  ASSERT_EQ(r.size(), static_cast<size_t>(kWriters * kSeriesPer));
  for (const auto& [l, samples] : r) {
    std::vector<Sample> want;
    for (int rr = 0; rr < kRounds; ++rr) {
      if (rr % 3 != 2) want.push_back({1'000'000 + rr * 1000, static_cast<double>(rr)});
    }
    EXPECT_EQ(samples, want) << l.ToString();
  }
  EXPECT_EQ(h.Stats().num_series, static_cast<uint64_t>(kWriters * kSeriesPer));
}

// Appenders hold refs of series that a concurrent Truncate removes (and whose objects new
// series reuse); every committed sample at or after the final truncation point must be in
// the head, under its labels, exactly once. Run under TSan for the lock-free ref lookup.
TEST(HeadConcurrencyTest, AppendByRefRacesGcThatRemovesAndReusesSeries) {
  Head h;
  constexpr int kWriters = 3, kSeriesPer = 40, kRounds = 150;
  constexpr int64_t kStep = 1000;
  std::atomic<int64_t> gc_mint{0};
  std::atomic<int64_t> gc_passes{0};
  std::atomic<bool> stop{false};
  // committed[w][i]: timestamps committed for series (w, i).
  std::vector<std::vector<std::vector<int64_t>>> committed(
      kWriters, std::vector<std::vector<int64_t>>(kSeriesPer));
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(42 + w);
      std::vector<SeriesRef> refs(kSeriesPer, 0);
      for (int r = 1; r <= kRounds; ++r) {
        const int64_t t = r * kStep;
        if (r % 10 == 0) {
          // The writers would otherwise finish before GC gets going: let a Truncate pass
          // (between this writer's appenders; the others keep appending).
          const int64_t seen = gc_passes.load();
          while (gc_passes.load() == seen) std::this_thread::yield();
        }
        auto app = h.NewAppender();
        std::vector<int> used;
        for (int i = 0; i < kSeriesPer; ++i) {
          // Each series skips rounds at random, so GC finds idle series to remove while
          // this writer still holds their refs.
          if (rng() % 3 == 0) continue;
          Labels l{{"__name__", "g"}, {"w", std::to_string(w)}, {"i", std::to_string(i)}};
          auto ref = app->Append(refs[i], l, t, static_cast<double>(t));
          if (!ref.ok()) {
            // Only a GC that moved past t can refuse it.
            ASSERT_TRUE(IsOutOfBounds(ref.status())) << ref.status();
            continue;
          }
          refs[i] = *ref;
          used.push_back(i);
        }
        ASSERT_TRUE(app->Commit().ok());
        for (int i : used) committed[w][i].push_back(t);
      }
    });
  }
  threads.emplace_back([&] {
    // Truncate a few rounds behind the writers, removing series idle since then.
    while (!stop.load()) {
      const int64_t newest = h.MaxTime();
      if (newest > 4 * kStep) {
        gc_mint.store(newest - 3 * kStep);
        ASSERT_TRUE(h.Truncate(gc_mint.load()).ok());
        gc_passes.fetch_add(1);
      }
      std::this_thread::yield();
    }
  });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  stop.store(true);
  threads.back().join();

  const int64_t mint = gc_mint.load();
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kSeriesPer; ++i) {
      Labels l{{"__name__", "g"}, {"w", std::to_string(w)}, {"i", std::to_string(i)}};
      std::vector<Sample> want;
      for (int64_t t : committed[w][i]) {
        if (t >= mint) want.push_back({t, static_cast<double>(t)});
      }
      std::vector<Sample> got;
      for (const Sample& x : QueryOne(h, l)) {
        if (x.t >= mint) got.push_back(x);
      }
      EXPECT_EQ(got, want) << l.ToString();
    }
  }
  EXPECT_GT(h.Stats().series_removed, 0u);
}

// Selects see a commit entirely or not at all.
TEST(HeadConcurrencyTest, CommitsAreAtomicForQueriers) {
  Head h;
  constexpr int kSeries = 40, kRounds = 200;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    std::vector<SeriesRef> refs(kSeries, 0);
    for (int r = 0; r < kRounds; ++r) {
      auto app = h.NewAppender();
      for (int i = 0; i < kSeries; ++i) {
        auto ref = app->Append(refs[i], Labels{{"__name__", "x"}, {"i", std::to_string(i)}},
                               r + 1, r);
        ASSERT_TRUE(ref.ok());
        refs[i] = *ref;
      }
      ASSERT_TRUE(app->Commit().ok());
    }
    done.store(true);
  });
  int checks = 0;
  while (!done.load() || checks == 0) {
    auto r = Query(h, INT64_MIN, INT64_MAX, {M(MatchType::kEqual, "__name__", "x")});
    std::set<size_t> counts;
    for (const auto& [l, s] : r) counts.insert(s.size());
    // All series have the same number of samples: no batch is half visible. (Series created
    // by a batch still being committed have no samples and are not returned.)
    ASSERT_LE(counts.size(), 1u);
    ++checks;
  }
  writer.join();
}

}  // namespace
}  // namespace strata::tsdb
