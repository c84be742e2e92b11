// Crash safety of the head + WAL: a child process commits batches with an fsync per commit
// and reports each commit that returned; the parent SIGKILLs it at a random point, repairs
// the WAL tail, replays it into a fresh head and checks that
//   - every sample of every reported commit is present,
//   - a commit cut by the kill is present entirely or not at all,
//   - nothing beyond the one in-flight commit is present (no uncommitted data),
//   - no series is duplicated and every series comes back with its labels.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "strata/base/file_system.h"
#include "strata/tsdb/head.h"
#include "strata/tsdb/head_wal.h"
#include "strata/tsdb/wal/reader.h"
#include "strata/tsdb/wal/writer.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace strata::tsdb {
namespace {

using model::Labels;

constexpr int kFixedSeries = 6;

// Batch b appends one sample to each of the fixed series x0..x5 and creates series new<b>
// with one sample, all at t = 1000 * (b + 1), value b * 100 + i.
Labels FixedLabels(int i) { return Labels{{"__name__", "crash"}, {"x", std::to_string(i)}}; }
Labels NewLabels(int b) { return Labels{{"__name__", "crash_new"}, {"b", std::to_string(b)}}; }

[[noreturn]] void Child(const std::string& dir, int fd) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  wal::WriterOptions wo;
  wo.sync_policy = wal::SyncPolicy::kAlways;
  wo.segment_size = 4 * wal::kPageSize;  // small segments: kills also land across segments
  auto w = wal::Writer::Open(dir, wo);
  if (!w.ok()) _exit(3);
  WalWriterSink sink(w->get());
  HeadOptions o;
  o.wal = &sink;
  Head head(o);
  model::SeriesRef refs[kFixedSeries] = {};
  for (int b = 0;; ++b) {
    auto app = head.NewAppender();
    const int64_t t = 1000 * (int64_t{b} + 1);
    for (int i = 0; i < kFixedSeries; ++i) {
      auto r = app->Append(refs[i], FixedLabels(i), t, b * 100 + i);
      if (!r.ok()) _exit(4);
      refs[i] = *r;
    }
    if (!app->Append(0, NewLabels(b), t, b * 100 + kFixedSeries).ok()) _exit(4);
    if (!app->Commit().ok()) _exit(5);
    const int32_t done = b;
    if (write(fd, &done, sizeof(done)) != sizeof(done)) _exit(6);
  }
}

TEST(HeadCrashTest, CommitsSurviveSigkillAllOrNothing) {
  const uint64_t seed = 424242;
  std::mt19937_64 rng(seed);
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed << " round " << round);
    testing::TempDir tmp;
    const std::string dir = tmp.Sub("wal");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const int kill_after = 1 + static_cast<int>(rng() % 60);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Child(dir, fds[1]);
    }
    close(fds[1]);
    int last_reported = -1;
    int32_t b = 0;
    while (last_reported + 1 < kill_after && read(fds[0], &b, sizeof(b)) == sizeof(b)) {
      last_reported = b;
    }
    kill(pid, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    // Commits reported after we stopped reading were also returned by Commit(): count them.
    while (read(fds[0], &b, sizeof(b)) == sizeof(b)) last_reported = b;
    close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "child exited early with status " << wstatus;

    base::FileSystem& fs = *base::DefaultFileSystem();
    STRATA_ASSERT_OK(wal::RepairTail(fs, dir));
    Head head;
    WalReplayStats st;
    STRATA_ASSERT_OK(ReplayWal(fs, dir, head, &st));

    // Collect what came back.
    auto q = head.NewQuerier(INT64_MIN, INT64_MAX);
    ASSERT_TRUE(q.ok());
    auto m = model::Matcher::Create(model::MatchType::kRegexMatch, "__name__", "crash.*");
    auto set = (*q)->Select({*m});
    std::set<std::string> seen_labels;
    std::map<int, int> samples_per_batch;  // batch -> samples found
    while (set->Next()) {
      const Labels& l = set->At().labels();
      ASSERT_TRUE(seen_labels.insert(l.ToString()).second) << "duplicated " << l.ToString();
      const bool fixed = l.MetricName() == "crash";
      auto it = set->At().Iterator();
      while (it->Next()) {
        const model::Sample s = it->At();
        ASSERT_EQ(s.t % 1000, 0);
        const int batch = static_cast<int>(s.t / 1000) - 1;
        int i = kFixedSeries;
        if (fixed) {
          const std::string_view x = l.Get("x");
          ASSERT_EQ(std::from_chars(x.data(), x.data() + x.size(), i).ec, std::errc());
        }
        ASSERT_EQ(s.v, batch * 100 + i) << l.ToString() << " t=" << s.t;
        if (!fixed) {
          ASSERT_EQ(l.Get("b"), std::to_string(batch));
        }
        ++samples_per_batch[batch];
      }
      ASSERT_TRUE(it->status().ok()) << it->status();
    }
    ASSERT_TRUE(set->status().ok()) << set->status();

    const int per_batch = kFixedSeries + 1;
    for (int bb = 0; bb <= last_reported; ++bb) {
      ASSERT_EQ(samples_per_batch[bb], per_batch) << "committed batch " << bb << " incomplete";
    }
    // At most the one batch in flight at the kill may also be there, and then entirely.
    for (const auto& [bb, n] : samples_per_batch) {
      ASSERT_LE(bb, last_reported + 1) << "batch " << bb << " was never committed";
      ASSERT_EQ(n, per_batch) << "batch " << bb << " is partly present";
    }
    // Series: the fixed ones plus new<b> of every batch present; the in-flight batch's series
    // record may have reached the log without its samples record.
    const uint64_t want = kFixedSeries + samples_per_batch.size();
    const uint64_t got = head.Stats().num_series;
    EXPECT_TRUE(got == want || got == want + 1) << got << " series, want " << want;
  }
}

}  // namespace
}  // namespace strata::tsdb
