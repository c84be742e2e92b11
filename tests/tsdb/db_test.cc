// DB: open/reopen, crash recovery (fork + SIGKILL), head compaction checked by promtool,
// block + head queries, leftovers, the lock, retention.
#include "strata/tsdb/db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "strata/tsdb/errors.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tsdb/db_testing.h"

namespace strata::tsdb {
namespace {

using dbtest::AppendRange;
using dbtest::QueryAll;
using dbtest::SameSamples;
using dbtest::Series;
using dbtest::SeriesMap;

using ::testing::HasSubstr;

constexpr int64_t kHour = 3600 * 1000;

TEST(DBTest, ReopenAfterCloseRestoresAllSamples) {
  testing::TempDir tmp;
  SeriesMap want;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
    want = AppendRange(*db, 5, 1000, 1000 + 500 * 15000, 15000);
    STRATA_ASSERT_OK(db->Close());
  }
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  EXPECT_EQ(db->Stats().wal_replayed_samples, 5u * 500u);
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
}

// The child appends and reports each returned Commit() through a pipe; the parent kills it
// with SIGKILL at a seeded point and checks every reported commit came back on reopen.
TEST(DBTest, ReopenAfterSigkillKeepsEveryCommittedSample) {
  const uint64_t seed = 20261121;
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " round " << round);
    testing::TempDir tmp;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const int kill_after = 1 + static_cast<int>(rng() % 200);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      auto db = DB::Open(tmp.path(), dbtest::Manual());
      if (!db.ok()) _exit(2);
      for (int32_t b = 0;; ++b) {
        auto app = (*db)->NewAppender();
        for (int i = 0; i < 3; ++i) {
          if (!app->Append(0, Series(i), b * 1000, b + i).ok()) _exit(3);
        }
        if (!app->Commit().ok()) _exit(4);
        if (write(fds[1], &b, sizeof(b)) != sizeof(b)) _exit(5);
      }
    }
    close(fds[1]);
    int32_t b = -1, last = -1;
    while (last + 1 < kill_after && read(fds[0], &b, sizeof(b)) == sizeof(b)) last = b;
    kill(pid, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    while (read(fds[0], &b, sizeof(b)) == sizeof(b)) last = b;
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with status " << wstatus;

    // The killed process held the flock; the kernel released it with the process.
    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
    SeriesMap got = QueryAll(*db);
    ASSERT_EQ(got.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      const auto& v = got[Series(i).ToString()];
      // Every reported commit is there, in order; at most the one in flight beyond it.
      ASSERT_GE(static_cast<int>(v.size()), last + 1);
      ASSERT_LE(static_cast<int>(v.size()), last + 2);
      for (size_t k = 0; k < v.size(); ++k) {
        ASSERT_EQ(v[k].t, static_cast<int64_t>(k) * 1000);
        ASSERT_EQ(v[k].v, static_cast<double>(k) + i);
      }
    }
  }
}

TEST(DBTest, LockIsExclusive) {
  testing::TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  auto second = DB::Open(tmp.path(), dbtest::Manual());
  EXPECT_THAT(second.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        HasSubstr(tmp.path() + "/lock")));
  STRATA_ASSERT_OK(db->Close());
  STRATA_ASSERT_OK_AND_ASSIGN(auto again, DB::Open(tmp.path(), dbtest::Manual()));
}

TEST(DBTest, OpenRemovesLeftovers) {
  testing::TempDir tmp;
  const std::vector<std::string> leftovers = {"01HX0000000000000000000000.tmp-for-creation",
                                              "01HX0000000000000000000001.tmp-for-deletion",
                                              "x.tmp"};
  for (const auto& l : leftovers) {
    std::filesystem::create_directories(tmp.Sub(l) + "/chunks");
    std::ofstream(tmp.Sub(l) + "/meta.json") << "{}";
  }
  std::ofstream(tmp.Sub("keep.txt")) << "x";
  std::vector<std::string> logged;
  DBOptions opts;
  opts.logger = [&](std::string_view m) { logged.emplace_back(m); };
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(opts)));
  for (const auto& l : leftovers) EXPECT_FALSE(std::filesystem::exists(tmp.Sub(l))) << l;
  EXPECT_TRUE(std::filesystem::exists(tmp.Sub("keep.txt")));
  auto removed = db->Stats().removed_leftovers;
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, leftovers);
  EXPECT_EQ(logged.size(), 3u);
}

TEST(DBTest, BrokenBlockIsAnErrorNamingIt) {
  testing::TempDir tmp;
  const std::string b = tmp.Sub("01HX0000000000000000000000");
  std::filesystem::create_directories(b);
  std::ofstream(b + "/meta.json") << "not json";
  auto db = DB::Open(tmp.path(), dbtest::Manual());
  EXPECT_FALSE(db.ok());
  EXPECT_THAT(db.status().message(), HasSubstr(b));
}

TEST(DBTest, CompactPersistsHeadRangeAndQueriesSpanBlockAndHead) {
  testing::TempDir tmp;
  DBOptions opts;
  opts.wal_segment_size = 32 * 1024;  // several segments, so the WAL gets checkpointed
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(opts)));
  // 0.5h .. 4h: the first block is [first sample, 2h), like Prometheus's first head block.
  const int64_t first = kHour / 2 + 123;
  SeriesMap want = AppendRange(*db, 20, first, 4 * kHour, 15000);
  STRATA_ASSERT_OK(db->Compact());
  auto blocks = db->Blocks();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0]->meta().min_time, first);
  EXPECT_EQ(blocks[0]->meta().max_time, 2 * kHour);
  EXPECT_EQ(blocks[0]->meta().compaction.level, 1);
  // Head keeps [2h, 4h): 2h span is not more than 1.5 * 2h, so no second block.
  EXPECT_EQ(db->Stats().blocks_created, 1u);
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
  // A query straddling the block boundary returns each sample once.
  SeriesMap mid = QueryAll(*db, 2 * kHour - 60000, 2 * kHour + 60000);
  for (const auto& [k, v] : mid) EXPECT_EQ(v.size(), 8u) << k;  // 4 before 2h, 4 from 2h on
  // Samples older than the persisted block are out of bounds.
  auto app = db->NewAppender();
  auto r = app->Append(0, Series(0), kHour, 1);
  EXPECT_TRUE(IsOutOfBounds(r.status())) << r.status();
  STRATA_ASSERT_OK(app->Rollback());
  STRATA_ASSERT_OK(db->Close());
  db.reset();

  // Reopen: block + checkpoint/WAL give back everything, once.
  STRATA_ASSERT_OK_AND_ASSIGN(db, DB::Open(tmp.path(), dbtest::Manual(opts)));
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
  std::string wal_files;
  for (const auto& e : std::filesystem::directory_iterator(tmp.Sub("wal"))) {
    wal_files += e.path().filename().string() + " ";
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("wal/00000000")))
      << "old WAL segments should have been checkpointed and deleted: " << wal_files;
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

std::string FormatGo(double v) {
  // The values used below are small integers and halves: %g prints them as Go's 'g' does.
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

TEST(DBTest, CompactedBlockMatchesPromtoolDumpAndAnalyze) {
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  testing::TempDir tmp;
  const std::string data = tmp.Sub("data");
  SeriesMap want;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(data, dbtest::Manual()));
    want = AppendRange(*db, 3, 0, 4 * kHour, 60000);
    STRATA_ASSERT_OK(db->Compact());
    ASSERT_EQ(db->Blocks().size(), 1u);
    STRATA_ASSERT_OK(db->Close());
  }
  // Move the block away from the WAL so promtool dumps exactly the block.
  const std::string only = tmp.Sub("only");
  std::filesystem::create_directories(only + "/wal");  // promtool wants a WAL directory
  for (const auto& e : std::filesystem::directory_iterator(data)) {
    const std::string name = e.path().filename();
    if (name.size() == 26) std::filesystem::rename(e.path(), only + "/" + name);
  }
  std::vector<std::string> want_lines;
  for (const auto& [k, v] : want) {
    for (const auto& s : v) {
      if (s.t >= 2 * kHour) continue;
      // promtool prints labels as `{__name__="m", i="0", job="a"}`.
      std::string l = k;
      std::string spaced;
      for (size_t i = 0; i < l.size(); ++i) {
        spaced += l[i];
        if (l[i] == ',' && (i + 1 >= l.size() || l[i + 1] != ' ')) spaced += ' ';
      }
      want_lines.push_back(spaced + " " + FormatGo(s.v) + " " + std::to_string(s.t));
    }
  }
  std::sort(want_lines.begin(), want_lines.end());
  const std::string out = RunCommand("/usr/bin/promtool tsdb dump " + only + " 2>&1");
  std::vector<std::string> got;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    if (nl > pos) got.push_back(out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::sort(got.begin(), got.end());
  ASSERT_EQ(got.size(), want_lines.size()) << out.substr(0, 2000);
  EXPECT_EQ(got, want_lines);
  const std::string analyze = RunCommand("/usr/bin/promtool tsdb analyze " + only + " 2>&1");
  EXPECT_THAT(analyze, HasSubstr("\nDuration: 2h0m0s\nSeries: 3\n"));
}

TEST(DBTest, RetentionDeletesOldBlocks) {
  testing::TempDir tmp;
  DBOptions opts;
  opts.retention_ms = 3 * kHour;
  opts.max_block_duration = 2 * kHour;  // level-1 blocks only
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(opts)));
  SeriesMap want = AppendRange(*db, 2, 0, 10 * kHour, 10 * 60000);
  STRATA_ASSERT_OK(db->Compact());
  // Blocks [0,2h) [2h,4h) [4h,6h) [6h,8h) were cut; newest max 8h, so blocks whose maxt is
  // more than 3h older (maxt <= 4h) are gone.
  auto blocks = db->Blocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0]->meta().min_time, 4 * kHour);
  EXPECT_EQ(blocks[1]->meta().min_time, 6 * kHour);
  EXPECT_EQ(db->Stats().blocks_deleted, 2u);
  int dirs = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    const std::string name = e.path().filename();
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
    if (name.size() == 26) ++dirs;
  }
  EXPECT_EQ(dirs, 2);
  SeriesMap got = QueryAll(*db);
  for (const auto& [k, v] : got) {
    ASSERT_FALSE(v.empty());
    EXPECT_EQ(v.front().t, 4 * kHour) << k;
    EXPECT_EQ(v.back().t, 10 * kHour - 10 * 60000) << k;
  }
}

TEST(DBTest, LeveledCompactionMergesThreeBlocksIntoSixHours) {
  testing::TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  SeriesMap want = AppendRange(*db, 3, 0, 10 * kHour, 5 * 60000);
  STRATA_ASSERT_OK(db->Compact());
  // Head blocks [0,2h) [2h,4h) [4h,6h) [6h,8h); all but the newest fill the 6h range
  // [0,6h), so they merge (Prometheus's selectDirs); [6h,8h) stays level 1.
  auto blocks = db->Blocks();
  ASSERT_EQ(blocks.size(), 2u);
  const auto& m = blocks[0]->meta();
  EXPECT_EQ(m.min_time, 0);
  EXPECT_EQ(m.max_time, 6 * kHour);
  EXPECT_EQ(m.compaction.level, 2);
  ASSERT_EQ(m.compaction.parents.size(), 3u);
  EXPECT_EQ(m.compaction.parents[0].min_time, 0);
  EXPECT_EQ(m.compaction.parents[2].max_time, 6 * kHour);
  ASSERT_EQ(m.compaction.sources.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(m.compaction.sources[i], m.compaction.parents[i].ulid);
  EXPECT_EQ(m.stats.num_series, 3u);
  EXPECT_EQ(m.stats.num_samples, 3u * 6 * 12);
  EXPECT_EQ(blocks[1]->meta().compaction.level, 1);
  EXPECT_EQ(db->Stats().blocks_merged, 1u);
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
  // Nothing more to do; and the result survives a reopen.
  STRATA_ASSERT_OK(db->Compact());
  EXPECT_EQ(db->Blocks().size(), 2u);
  STRATA_ASSERT_OK(db->Close());
  db.reset();
  STRATA_ASSERT_OK_AND_ASSIGN(db, DB::Open(tmp.path(), dbtest::Manual()));
  EXPECT_EQ(db->Blocks().size(), 2u);
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  const std::string out = RunCommand("/usr/bin/promtool tsdb analyze " + tmp.path() + " " +
                                     m.ulid.ToString() + " 2>&1");
  EXPECT_THAT(out, HasSubstr("\nDuration: 6h0m0s\nSeries: 3\n"));
}

// Appends must not wait for a running Compact(): Compact is held inside head persistence
// (its logger blocks right after it wrote the block, with the DB mutex held) while another
// thread makes an appender, appends and commits. The 60 s bound only keeps a regression from
// hanging the suite; the property itself does not depend on timing.
// A DB with 4 series over [0, 4h) whose Compact() runs on a thread that pauses right after
// it has written the head's [0, 2h) block (the block is then visible to new queriers and
// the head not yet truncated) until the fixture is released or destroyed.
class PausedCompaction {
 public:
  explicit PausedCompaction(const std::string& dir) {
    DBOptions o;
    o.wal_sync = wal::SyncPolicy::kNone;
    o.logger = [this](std::string_view msg) {
      if (first_ && msg.starts_with("wrote block")) {
        first_ = false;
        paused_.set_value();
        release_f_.wait();
      }
    };
    auto db = DB::Open(dir, dbtest::Manual(o));
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return;
    db_ = std::move(*db);
    want_ = AppendRange(*db_, 4, 0, 4 * kHour, 60000);
    compactor_ = std::thread([this] { EXPECT_TRUE(db_->Compact().ok()); });
  }
  ~PausedCompaction() { Release(); }
  // Whether Compact reached the pause within a minute.
  bool Paused() {
    return db_ != nullptr &&
           paused_.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  }
  void Release() {
    if (released_) return;
    released_ = true;
    release_.set_value();
    if (compactor_.joinable()) compactor_.join();
  }
  DB& db() { return *db_; }
  SeriesMap& want() { return want_; }

 private:
  bool first_ = true;
  bool released_ = false;
  std::promise<void> paused_, release_;
  std::shared_future<void> release_f_ = release_.get_future().share();
  std::unique_ptr<DB> db_;
  SeriesMap want_;
  std::thread compactor_;
};

TEST(DBTest, AppendsDoNotWaitForARunningCompaction) {
  testing::TempDir tmp;
  PausedCompaction pc(tmp.path());
  ASSERT_TRUE(pc.Paused()) << "Compact did not persist a block";
  auto appended = std::async(std::launch::async, [&] {
    auto app = pc.db().NewAppender();
    auto r = app->Append(0, Series(0), 4 * kHour, 42);
    return r.ok() ? app->Commit() : r.status();
  });
  const bool done = appended.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  pc.Release();
  ASSERT_TRUE(done) << "the append waited for the running compaction";
  STRATA_ASSERT_OK(appended.get());
  pc.want()[Series(0).ToString()].push_back({4 * kHour, 42});
  EXPECT_TRUE(SameSamples(QueryAll(pc.db()), pc.want()));
  EXPECT_FALSE(pc.db().Blocks().empty());
}

// While Compact() has written a block and not yet truncated the head, a new querier is
// answered at once and sees every sample exactly once (block below its max time, head above).
TEST(DBTest, QueriesDoNotWaitForARunningCompaction) {
  testing::TempDir tmp;
  PausedCompaction pc(tmp.path());
  ASSERT_TRUE(pc.Paused()) << "Compact did not persist a block";
  auto queried = std::async(std::launch::async, [&] { return QueryAll(pc.db()); });
  const bool done = queried.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  pc.Release();
  ASSERT_TRUE(done) << "the query waited for the running compaction";
  EXPECT_TRUE(SameSamples(queried.get(), pc.want()));
  EXPECT_TRUE(SameSamples(QueryAll(pc.db()), pc.want()));
}

// A querier opened before the head block was added reads [0, 2h) from the head; Compact()
// must not truncate the head under it (Prometheus's WaitForPendingReadersInTimeRange), so it
// waits until that querier is closed.
TEST(DBTest, CompactWaitsForQueriersReadingTheTruncatedHead) {
  testing::TempDir tmp;
  std::promise<void> waiting;
  bool first = true;
  DBOptions o;
  o.wal_sync = wal::SyncPolicy::kNone;
  o.logger = [&](std::string_view msg) {
    if (first && msg.starts_with("waiting for 1 open queriers")) {
      first = false;
      waiting.set_value();
    }
  };
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(o)));
  SeriesMap want = AppendRange(*db, 4, 0, 4 * kHour, 60000);
  STRATA_ASSERT_OK_AND_ASSIGN(auto early, db->NewQuerier(INT64_MIN, INT64_MAX));
  std::atomic<bool> compacted{false};
  std::thread compactor([&] {
    EXPECT_TRUE(db->Compact().ok());
    compacted = true;
  });
  const bool waited =
      waiting.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  EXPECT_TRUE(waited) << "Compact did not wait for the open querier";
  EXPECT_FALSE(compacted.load());
  // Everything is still there for the early querier, read from the head.
  EXPECT_TRUE(SameSamples(dbtest::Drain(*early->Select({dbtest::Eq("__name__", "m")})), want));
  STRATA_EXPECT_OK(early->Close());
  compactor.join();
  EXPECT_TRUE(compacted.load());
  EXPECT_EQ(db->Blocks().size(), 1u);
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
}

// With background compaction on, a commit that leaves the head spanning more than 1.5 block
// ranges makes the DB persist [0, 2h) on its own (the interval is too long to be the cause).
TEST(DBTest, BackgroundCompactionPersistsTheHeadAfterACommit) {
  testing::TempDir tmp;
  DBOptions o;
  o.wal_sync = wal::SyncPolicy::kNone;
  o.compaction_interval_ms = 3600 * 1000;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), o));
  SeriesMap want = AppendRange(*db, 4, 0, 2 * kHour, 60000);
  EXPECT_TRUE(db->Blocks().empty());
  auto more = AppendRange(*db, 4, 2 * kHour, 4 * kHour, 60000);
  for (auto& [k, v] : more) want[k].insert(want[k].end(), v.begin(), v.end());
  // The run is counted once Compact() has returned (its block is visible a little earlier).
  for (int i = 0; i < 600 && db->Stats().background_compactions == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(db->Blocks().size(), 1u) << "no block persisted in the background";
  EXPECT_EQ(db->Blocks()[0]->meta().min_time, 0);
  EXPECT_EQ(db->Blocks()[0]->meta().max_time, 2 * kHour);
  const DBStats st = db->Stats();
  EXPECT_GE(st.background_compactions, 1u);
  EXPECT_EQ(st.background_failures, 0u);
  EXPECT_EQ(st.blocks_created, 1u);
  EXPECT_TRUE(SameSamples(QueryAll(*db), want));
  STRATA_ASSERT_OK(db->Close());
  STRATA_ASSERT_OK_AND_ASSIGN(auto re, DB::Open(tmp.path(), dbtest::Manual()));
  EXPECT_TRUE(SameSamples(QueryAll(*re), want));
}

TEST(DBTest, ClosedDBRefusesWork) {
  testing::TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  STRATA_ASSERT_OK(db->Close());
  STRATA_ASSERT_OK(db->Close());
  EXPECT_THAT(db->NewQuerier(0, 1).status(), StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(db->Compact(), StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  auto app = db->NewAppender();
  EXPECT_THAT(app->Append(0, Series(0), 1, 1).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

}  // namespace
}  // namespace strata::tsdb
