// Crash safety of the DB with compaction running: a child process appends and commits
// batches (fsync per commit), calls Compact() every few batches with a tiny block range so
// that head persistence, leveled compaction and (through backfilled blocks dropped into the
// directory, then a restart) vertical compaction happen all the time; the parent SIGKILLs it
// at a seeded random moment, reopens the DB and checks, reading every block and the head
// separately (queries would hide duplicates, the merge querier drops them):
//   - every committed sample is present exactly once, with its value;
//   - the commit cut by the kill is present entirely or not at all, nothing later is;
//   - a backfilled block is present entirely or not at all, and entirely once recorded;
//   - Open left no `*.tmp-for-creation` / `*.tmp-for-deletion` / `*.tmp` entry behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "strata/tsdb/block/block_writer.h"
#include "strata/tsdb/db.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace strata::tsdb {
namespace {

constexpr int kSeries = 4;
constexpr int64_t kStep = 100;        // ms between batches
constexpr int64_t kBlockRange = 2000;  // 20 batches per head block
constexpr int kCompactEvery = 8;       // batches between Compact() calls
constexpr int kBackfillEvery = 70;     // batches between backfills (+ restart)

// Side-file records, written with one write() each after the step they describe returned
// (a SIGKILL cannot tear a write() of the page cache).
enum Kind : int64_t { kCommitted = 1, kBackfillIntent = 2, kBackfillDone = 3 };
struct Record {
  int64_t kind, a, b;
};

model::Labels Lbl(int i) {
  return model::Labels::FromPairs({{"__name__", "crash"}, {"i", std::to_string(i)}});
}
// Batch samples sit at multiples of kStep, backfilled ones half a step later.
double Value(int i, int64_t t) { return static_cast<double>(i) * 1e9 + static_cast<double>(t); }

void Put(int fd, Record r) {
  if (write(fd, &r, sizeof(r)) != sizeof(r)) _exit(20);
}

DBOptions Opts() {
  DBOptions o;
  o.block_range = kBlockRange;
  o.wal_segment_size = 32 * 1024;  // segments roll, so checkpoints run too
  return o;
}

[[noreturn]] void Child(const std::string& dir, int side_fd, int pipe_fd) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto db = DB::Open(dir, Opts());
  if (!db.ok()) _exit(2);
  int64_t backfill_lo = 0;
  for (int32_t b = 0;; ++b) {
    const int64_t t = b * kStep;
    auto app = (*db)->NewAppender();
    for (int i = 0; i < kSeries; ++i) {
      if (!app->Append(0, Lbl(i), t, Value(i, t)).ok()) _exit(3);
    }
    if (!app->Commit().ok()) _exit(4);
    Put(side_fd, {kCommitted, b, 0});
    if (write(pipe_fd, &b, sizeof(b)) != sizeof(b)) _exit(5);
    if (b % kCompactEvery == kCompactEvery - 1) {
      if (!(*db)->Compact().ok()) _exit(6);
    }
    if (b % kBackfillEvery == kBackfillEvery - 1) {
      // Backfill half-step samples below the newest block's max time: a block overlapping
      // persisted ones, as an out-of-order backfill or a copied-in block would be. The DB
      // sees it after a restart and compacts it vertically.
      int64_t newest = 0;
      for (const auto& blk : (*db)->Blocks()) newest = std::max(newest, blk->meta().max_time);
      const int64_t hi = newest / kStep * kStep;
      if (hi - backfill_lo >= 4 * kStep) {
        Put(side_fd, {kBackfillIntent, backfill_lo, hi});
        block::BlockWriterOptions bo;
        bo.chunk_range = kBlockRange;
        bo.min_time = backfill_lo;
        bo.max_time = hi;
        block::BlockWriter w(*base::DefaultFileSystem(), dir, bo);
        for (int i = 0; i < kSeries; ++i) {
          std::vector<model::Sample> s;
          for (int64_t bt = backfill_lo + kStep / 2; bt < hi; bt += kStep) {
            s.push_back({bt, Value(i, bt)});
          }
          if (!w.AddSeries(Lbl(i), std::move(s)).ok()) _exit(7);
        }
        if (!w.Flush().ok()) _exit(8);
        Put(side_fd, {kBackfillDone, backfill_lo, hi});
        backfill_lo = hi;
        if (!(*db)->Close().ok()) _exit(9);
        db->reset();
        db = DB::Open(dir, Opts());
        if (!db.ok()) _exit(10);
        if (!(*db)->Compact().ok()) _exit(11);
      }
    }
  }
}

TEST(DBCrashTest, CompactionSurvivesSigkillWithEverySampleExactlyOnce) {
  const uint64_t seed = 20261122;
  std::mt19937_64 rng(seed);
  constexpr int kRounds = 20;
  int rounds_with_merges = 0, rounds_with_vertical = 0, rounds_with_leftovers = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " round " << round);
    testing::TempDir tmp;
    const std::string dir = tmp.Sub("data");
    const std::string side = tmp.Sub("side");
    const int side_fd = open(side.c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
    ASSERT_GE(side_fd, 0);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    // Enough batches for a few head blocks, merges and a backfill in most rounds.
    const int kill_after = 30 + static_cast<int>(rng() % 220);
    const int extra_us = static_cast<int>(rng() % 3000);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Child(dir, side_fd, fds[1]);
    }
    close(fds[1]);
    close(side_fd);
    int32_t b = 0;
    int seen = 0;
    while (seen < kill_after && read(fds[0], &b, sizeof(b)) == sizeof(b)) ++seen;
    usleep(extra_us);  // land anywhere: in a commit, a Compact(), a backfill or a restart
    kill(pid, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "child exited early with status " << WEXITSTATUS(wstatus);

    // What the child recorded.
    int64_t last_commit = -1;
    std::vector<std::pair<int64_t, int64_t>> backfills;  // done
    // The backfill recorded as intended but not as done ({0, 0}: none).
    std::pair<int64_t, int64_t> in_flight_backfill{0, 0};
    {
      std::ifstream f(side, std::ios::binary);
      Record r;
      while (f.read(reinterpret_cast<char*>(&r), sizeof(r))) {
        if (r.kind == kCommitted) {
          ASSERT_EQ(r.a, last_commit + 1);
          last_commit = r.a;
        } else if (r.kind == kBackfillIntent) {
          in_flight_backfill = {r.a, r.b};
        } else if (r.kind == kBackfillDone) {
          backfills.emplace_back(r.a, r.b);
          in_flight_backfill = {0, 0};
        }
      }
    }
    ASSERT_GE(last_commit, kill_after - 1);

    STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(dir, Opts()));
    // The kill cut a block write, a compaction or a deletion (Open cleaned up after it).
    rounds_with_leftovers += !db->Stats().removed_leftovers.empty();
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const std::string name = e.path().filename();
      EXPECT_EQ(name.find(".tmp"), std::string::npos) << "leftover " << name;
    }
    // Count every sample in every block and in the head above the newest block.
    std::map<int, std::map<int64_t, int>> count;  // series -> t -> occurrences
    auto collect = [&](storage::Querier& q) {
      auto m = model::Matcher::Create(model::MatchType::kEqual, "__name__", "crash");
      auto ss = q.Select({*m});
      while (ss->Next()) {
        const std::string_view is = ss->At().labels().Get("i");
        int i = -1;
        ASSERT_EQ(std::from_chars(is.data(), is.data() + is.size(), i).ec, std::errc());
        auto it = ss->At().Iterator();
        while (it->Next()) {
          const model::Sample s = it->At();
          ASSERT_EQ(s.v, Value(i, s.t)) << "series " << i << " t=" << s.t;
          ++count[i][s.t];
        }
        ASSERT_TRUE(it->status().ok()) << it->status();
      }
      ASSERT_TRUE(ss->status().ok()) << ss->status();
    };
    int64_t floor = INT64_MIN;
    bool merged = false, vertical = false;
    for (const auto& blk : db->Blocks()) {
      floor = std::max(floor, blk->meta().max_time);
      merged = merged || blk->meta().compaction.level > 1;
      vertical = vertical || (blk->meta().compaction.level > 1 &&
                              blk->meta().compaction.parents.size() >= 2 &&
                              blk->meta().compaction.parents[0].max_time >
                                  blk->meta().compaction.parents[1].min_time);
      STRATA_ASSERT_OK_AND_ASSIGN(auto q, blk->NewQuerier(INT64_MIN, INT64_MAX));
      collect(*q);
    }
    rounds_with_merges += merged;
    rounds_with_vertical += vertical;
    {
      STRATA_ASSERT_OK_AND_ASSIGN(auto q, db->head().NewQuerier(floor, INT64_MAX));
      collect(*q);
    }
    if (::testing::Test::HasFatalFailure()) return;

    // Expected: batches 0..last_commit, maybe last_commit + 1 (all series or none); backfill
    // half-steps of recorded ranges, maybe those of the in-flight one (all or none).
    auto in_range = [](const std::pair<int64_t, int64_t>& r, int64_t t) {
      return t >= r.first && t < r.second;
    };
    int in_flight_commit = 0, in_flight_bf = 0, in_flight_bf_want = 0;
    for (int i = 0; i < kSeries; ++i) {
      const auto& c = count[i];
      for (const auto& [t, n] : c) {
        ASSERT_EQ(n, 1) << "series " << i << " t=" << t << " stored " << n << " times";
        if (t % kStep == 0) {
          ASSERT_LE(t / kStep, last_commit + 1) << "series " << i << " t=" << t << " never committed";
          if (t / kStep == last_commit + 1) ++in_flight_commit;
        } else {
          bool known = false;
          for (const auto& r : backfills) known = known || in_range(r, t);
          if (!known) {
            ASSERT_TRUE(in_range(in_flight_backfill, t))
                << "series " << i << " t=" << t << " was never backfilled";
            ++in_flight_bf;
          }
        }
      }
      for (int64_t bb = 0; bb <= last_commit; ++bb) {
        ASSERT_EQ(c.count(bb * kStep), 1u) << "series " << i << ": committed batch " << bb
                                           << " lost";
      }
      for (const auto& r : backfills) {
        for (int64_t t = r.first + kStep / 2; t < r.second; t += kStep) {
          ASSERT_EQ(c.count(t), 1u) << "series " << i << ": backfilled t=" << t << " lost";
        }
      }
      in_flight_bf_want += (in_flight_backfill.second - in_flight_backfill.first) / kStep;
    }
    EXPECT_TRUE(in_flight_commit == 0 || in_flight_commit == kSeries)
        << "commit " << last_commit + 1 << " partly present: " << in_flight_commit;
    EXPECT_TRUE(in_flight_bf == 0 || in_flight_bf == in_flight_bf_want)
        << "backfill partly present: " << in_flight_bf << " of " << in_flight_bf_want;
  }
  // The rounds must really have exercised merges (a property of the seed; printed so a
  // change of timing that makes the test vacuous shows).
  RecordProperty("rounds_with_merges", rounds_with_merges);
  RecordProperty("rounds_with_vertical", rounds_with_vertical);
  RecordProperty("rounds_with_leftovers", rounds_with_leftovers);
  EXPECT_GE(rounds_with_merges, kRounds / 2);
  EXPECT_GE(rounds_with_vertical, 1);
}

}  // namespace
}  // namespace strata::tsdb
