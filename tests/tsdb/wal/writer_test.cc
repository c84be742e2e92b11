#include "strata/tsdb/wal/writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <algorithm>
#include <thread>
#include <vector>

#include "base/coding.h"
#include "base/crc32c.h"
#include "strata/tsdb/record/record.h"
#include "testing/fault_fs.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tsdb/wal/wal_test_util.h"

namespace strata::tsdb::wal {
namespace {

using ::strata::testing::FaultFileSystem;
using ::strata::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testutil::ReadAll;
using testutil::RandomBytes;
using testutil::TextRecord;

std::string ReadSegment(const std::string& dir, int index) {
  auto s = base::DefaultFileSystem()->ReadFile(SegmentName(dir, index));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : std::string();
}

struct Header {
  uint8_t type;
  uint16_t len;
  uint32_t crc;
};
Header HeaderAt(const std::string& seg, size_t off) {
  return Header{static_cast<uint8_t>(seg[off]), base::LoadBE16(seg.data() + off + 1),
                base::LoadBE32(seg.data() + off + 3)};
}

TEST(WriterTest, SmallRecordIsOneFullFragmentAndCloseZeroFillsThePage) {
  TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}));
  STRATA_ASSERT_OK(w->Log({"abc"}));
  // Written through to the file at the end of Log, not yet padded.
  std::string seg = ReadSegment(tmp.path(), 0);
  ASSERT_EQ(seg.size(), 10u);
  const std::string want_header = {0x01, 0x00, 0x03};
  EXPECT_EQ(seg.substr(0, 3), want_header);
  EXPECT_EQ(base::LoadBE32(seg.data() + 3), base::Crc32c("abc"));
  EXPECT_EQ(seg.substr(7), "abc");
  EXPECT_EQ(w->LastSegmentAndOffset(), (std::pair<int, int64_t>(0, 10)));
  STRATA_ASSERT_OK(w->Close());
  seg = ReadSegment(tmp.path(), 0);
  ASSERT_EQ(seg.size(), static_cast<size_t>(kPageSize));
  EXPECT_EQ(seg.find_first_not_of('\0', 10), std::string::npos);
  EXPECT_THAT(w->Close(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
  EXPECT_THAT(w->Log({"x"}), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
}

TEST(WriterTest, RecordLargerThanAPageIsSplitFirstMiddleLast) {
  TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}));
  const std::string rec = RandomBytes(80000, 1);
  STRATA_ASSERT_OK(w->Log({rec}));
  STRATA_ASSERT_OK(w->Close());
  const std::string seg = ReadSegment(tmp.path(), 0);
  ASSERT_EQ(seg.size(), static_cast<size_t>(3 * kPageSize));
  constexpr size_t kChunk = kPageSize - kFragmentHeaderSize;  // 32761
  const Header first = HeaderAt(seg, 0);
  const Header middle = HeaderAt(seg, kPageSize);
  const Header last = HeaderAt(seg, 2 * kPageSize);
  EXPECT_EQ(first.type, kFragmentFirst);
  EXPECT_EQ(first.len, kChunk);
  EXPECT_EQ(first.crc, base::Crc32c(rec.substr(0, kChunk)));
  EXPECT_EQ(middle.type, kFragmentMiddle);
  EXPECT_EQ(middle.len, kChunk);
  EXPECT_EQ(middle.crc, base::Crc32c(rec.substr(kChunk, kChunk)));
  EXPECT_EQ(last.type, kFragmentLast);
  EXPECT_EQ(last.len, 80000 - 2 * kChunk);
  EXPECT_EQ(last.crc, base::Crc32c(rec.substr(2 * kChunk)));
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  EXPECT_THAT(recs, ElementsAre(rec));
}

TEST(WriterTest, FewerThanSevenBytesLeftArePaddedAndTheNextRecordStartsAPage) {
  TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}));
  // 7 + 32758 = 32765: three bytes remain, too few for a header.
  const std::string a = RandomBytes(kPageSize - kFragmentHeaderSize - 3, 2);
  STRATA_ASSERT_OK(w->Log({a, "next"}));
  const std::string seg = ReadSegment(tmp.path(), 0);
  ASSERT_EQ(seg.size(), static_cast<size_t>(kPageSize + 11));
  EXPECT_EQ(HeaderAt(seg, 0).type, kFragmentFull);
  EXPECT_EQ(seg.substr(kPageSize - 3, 3), std::string(3, '\0'));
  EXPECT_EQ(HeaderAt(seg, kPageSize).type, kFragmentFull);
  EXPECT_EQ(seg.substr(kPageSize + 7), "next");
}

TEST(WriterTest, RecordNeverCrossesASegment) {
  TempDir tmp;
  WriterOptions opts;
  opts.segment_size = 3 * kPageSize;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts));
  const std::string a = RandomBytes(50000, 3), b = RandomBytes(50000, 4);
  STRATA_ASSERT_OK(w->Log({a}));
  // a ends at 32768 + 7 + (50000 - 32761) = 50014 in page 1. Space left in the segment for
  // b: (32768 - 17246 - 7) + 32761 = 48276 < 50000, so b starts segment 1.
  STRATA_ASSERT_OK(w->Log({b}));
  EXPECT_EQ(w->LastSegmentAndOffset().first, 1);
  STRATA_ASSERT_OK(w->Close());
  const std::string seg0 = ReadSegment(tmp.path(), 0);
  const std::string seg1 = ReadSegment(tmp.path(), 1);
  EXPECT_EQ(seg0.size(), static_cast<size_t>(2 * kPageSize));  // page 1 zero-filled
  EXPECT_EQ(seg0.find_first_not_of('\0', 50014), std::string::npos);
  EXPECT_EQ(HeaderAt(seg1, 0).type, kFragmentFirst);
  STRATA_ASSERT_OK_AND_ASSIGN(auto in0, ReadAll(tmp.path(), 0, 0));
  STRATA_ASSERT_OK_AND_ASSIGN(auto in1, ReadAll(tmp.path(), 1, 1));
  EXPECT_THAT(in0, ElementsAre(a));
  EXPECT_THAT(in1, ElementsAre(b));
}

TEST(WriterTest, EmptyRecordIsAnEmptyFullFragment) {
  TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}));
  STRATA_ASSERT_OK(w->Log({"", "x"}));
  STRATA_ASSERT_OK(w->Close());
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  EXPECT_THAT(recs, ElementsAre("", "x"));
}

TEST(WriterTest, ZstdSetsFlagOnEveryFragmentOnlyWhenSmaller) {
  TempDir tmp;
  WriterOptions opts;
  opts.compression = Compression::kZstd;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts));
  const std::string text = TextRecord(1, 100);
  const std::string noise = RandomBytes(100, 5);
  // Random bytes of 200 KB do not compress: stored raw over 7 fragments.
  const std::string big_noise = RandomBytes(200000, 6);
  // 400 KB of varied text compresses but still spans several pages.
  std::string big_text;
  for (int i = 0; big_text.size() < 400000; ++i) big_text += std::to_string(i * 7919) + ",";
  STRATA_ASSERT_OK(w->Log({text, noise, big_noise, big_text}));
  STRATA_ASSERT_OK(w->Close());
  const std::string seg = ReadSegment(tmp.path(), 0);
  EXPECT_EQ(static_cast<uint8_t>(seg[0]), kZstdFlag | kFragmentFull);
  const size_t second = kFragmentHeaderSize + HeaderAt(seg, 0).len;
  EXPECT_EQ(HeaderAt(seg, second).type, kFragmentFull);  // noise: raw
  // Every fragment of big_text carries the flag.
  size_t zstd_fragments = 0, raw_fragments = 0;
  for (size_t off = 0; off + kFragmentHeaderSize <= seg.size();) {
    const Header h = HeaderAt(seg, off);
    if (h.type == 0) {
      off = (off / kPageSize + 1) * kPageSize;
      continue;
    }
    ((h.type & kZstdFlag) != 0 ? zstd_fragments : raw_fragments)++;
    off += kFragmentHeaderSize + h.len;
    if (kPageSize - off % kPageSize < kFragmentHeaderSize) off = (off / kPageSize + 1) * kPageSize;
  }
  EXPECT_GE(zstd_fragments, 3u);  // text + at least first and last of big_text
  EXPECT_EQ(raw_fragments, 1u + 7u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  EXPECT_THAT(recs, ElementsAre(text, noise, big_noise, big_text));
}

TEST(WriterTest, OpenStartsANewSegmentAfterTheLast) {
  TempDir tmp;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}));
    STRATA_ASSERT_OK(w->Log({"a"}));
    STRATA_ASSERT_OK_AND_ASSIGN(int next, w->NextSegment());
    EXPECT_EQ(next, 1);
    STRATA_ASSERT_OK(w->Log({"b"}));
  }  // destructor closes
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}));
  EXPECT_EQ(w->LastSegmentAndOffset(), (std::pair<int, int64_t>(2, 0)));
  STRATA_ASSERT_OK(w->Log({"c"}));
  STRATA_ASSERT_OK(w->Sync());
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  EXPECT_THAT(recs, ElementsAre("a", "b", "c"));
  STRATA_ASSERT_OK(w->Truncate(2));
  STRATA_ASSERT_OK_AND_ASSIGN(auto bounds, SegmentBounds(*base::DefaultFileSystem(), tmp.path()));
  EXPECT_EQ(bounds, (std::pair<int, int>(2, 2)));
  EXPECT_THAT(w->Truncate(3), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("current")));
}

TEST(WriterTest, RejectsSegmentSizeNotAMultipleOfThePage) {
  TempDir tmp;
  WriterOptions opts;
  opts.segment_size = kPageSize + 1;
  EXPECT_THAT(Writer::Open(tmp.path(), opts),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("segment size")));
}

TEST(WriterTest, ConcurrentAppendersKeepEachBatchTogether) {
  TempDir tmp;
  WriterOptions opts;
  opts.segment_size = 4 * kPageSize;  // forces many rotations under contention
  opts.compression = Compression::kZstd;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts));
  constexpr int kThreads = 4, kBatches = 300;
  std::vector<std::thread> threads;
  std::vector<absl::Status> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatches && errors[t].ok(); ++i) {
        // Like the head's commit: a series record and a samples record per batch, encoded
        // by the caller outside the writer's lock.
        std::string series, samples;
        const auto ref = static_cast<model::SeriesRef>(t * 100000 + i);
        record::EncodeSeries(
            std::vector<record::RefSeries>{{ref, model::Labels{{"t", std::to_string(t)}}}},
            &series);
        record::EncodeSamples(std::vector<record::RefSample>{{ref, i, 1.0 * i}}, &samples);
        errors[t] = w->Log({series, samples});
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) STRATA_ASSERT_OK(e);
  STRATA_ASSERT_OK(w->Close());
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  ASSERT_EQ(recs.size(), 2u * kThreads * kBatches);
  std::vector<int> next(kThreads, 0);
  for (size_t i = 0; i < recs.size(); i += 2) {
    std::vector<record::RefSeries> s;
    std::vector<record::RefSample> smp;
    STRATA_ASSERT_OK(record::DecodeSeries(recs[i], &s));
    STRATA_ASSERT_OK(record::DecodeSamples(recs[i + 1], &smp));
    ASSERT_EQ(s.size(), 1u);
    ASSERT_EQ(smp.size(), 1u);
    ASSERT_EQ(s[0].ref, smp[0].ref) << "batch split at record " << i;
    const int t = static_cast<int>(s[0].ref / 100000);
    ASSERT_EQ(static_cast<int>(s[0].ref % 100000), next[t]++) << "thread " << t << " out of order";
  }
}

// Crash safety: a crash loses exactly what was never synced.
TEST(WriterFaultTest, CrashDropsOnlyUnsyncedRecords) {
  TempDir tmp;
  FaultFileSystem fs(base::DefaultFileSystem());
  WriterOptions opts;
  opts.fs = &fs;
  std::vector<std::string> synced;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts));
    for (int i = 0; i < 40; ++i) {
      synced.push_back(TextRecord(i, 3000));
      STRATA_ASSERT_OK(w->Log({synced.back()}));
    }
    STRATA_ASSERT_OK(w->Sync());
    for (int i = 40; i < 60; ++i) STRATA_ASSERT_OK(w->Log({TextRecord(i, 3000)}));
    STRATA_ASSERT_OK(fs.SimulateCrash());
  }  // the writer's Close fails on its dead file handle; nothing more reaches the disk
  RepairReport report;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts, &report));
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  EXPECT_EQ(recs, synced);
}

TEST(WriterFaultTest, SyncAlwaysLosesNothingAcknowledged) {
  TempDir tmp;
  FaultFileSystem fs(base::DefaultFileSystem());
  WriterOptions opts;
  opts.fs = &fs;
  opts.sync_policy = SyncPolicy::kAlways;
  opts.segment_size = 2 * kPageSize;
  std::vector<std::string> acked;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts));
    for (int i = 0; i < 50; ++i) {
      const std::string r = TextRecord(i, 5000);
      STRATA_ASSERT_OK(w->Log({r}));
      acked.push_back(r);
    }
    STRATA_ASSERT_OK(fs.SimulateCrash());
  }
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts));
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  EXPECT_EQ(recs, acked);
}

TEST(WriterFaultTest, TornWriteIsStickyAndRepairedOnReopen) {
  TempDir tmp;
  FaultFileSystem fs(base::DefaultFileSystem());
  WriterOptions opts;
  opts.fs = &fs;
  std::vector<std::string> synced;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts));
    for (int i = 0; i < 5; ++i) {
      synced.push_back(TextRecord(i, 100));
      STRATA_ASSERT_OK(w->Log({synced.back()}));
    }
    STRATA_ASSERT_OK(w->Sync());
    // The next write stores only 20 bytes of a 50 000-byte record's first page.
    fs.FailNthAppend(1, /*partial_bytes=*/20);
    EXPECT_THAT(w->Log({RandomBytes(50000, 9)}),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
    EXPECT_THAT(w->Log({"more"}),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("earlier write error")));
    EXPECT_THAT(w->Sync(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("injected")));
    // The torn bytes reached the file (the OS had them); they are not synced either.
  }
  RepairReport report;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts, &report));
  EXPECT_TRUE(report.repaired);
  EXPECT_EQ(report.segment, 0);
  EXPECT_EQ(report.bytes_dropped, 20);
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  EXPECT_EQ(recs, synced);
}

TEST(WriterFaultTest, FailedSyncIsReportedAndSticky) {
  TempDir tmp;
  FaultFileSystem fs(base::DefaultFileSystem());
  WriterOptions opts;
  opts.fs = &fs;
  opts.sync_policy = SyncPolicy::kAlways;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), opts));
  STRATA_ASSERT_OK(w->Log({"a"}));
  fs.FailNthSync(1);
  EXPECT_THAT(w->Log({"b"}), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
  EXPECT_THAT(w->Log({"c"}), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("")));
}

}  // namespace
}  // namespace strata::tsdb::wal

namespace strata::tsdb::wal {
namespace {

std::string KillRecord(int i) { return TextRecord(i, 3000 + (i % 7) * 4000); }

// In the child: acknowledges record `i` of `thread` to the parent. Pipe writes of <= PIPE_BUF
// bytes are atomic, so concurrent acknowledgements never interleave.
void Ack(int fd, int32_t thread, int32_t i) {
  const int32_t msg[2] = {thread, i};
  if (::write(fd, msg, sizeof(msg)) != sizeof(msg)) ::_exit(4);
}

struct KillResult {
  int acks = 0;    // acknowledgements read, before and after the kill
  int status = 0;  // the child's wait status
};

// Forks a child that runs `child(ack_fd)` (logging records and Ack()ing each once Log()
// returned; it must end with _exit), SIGKILLs it once `min_acks` acknowledgements arrived,
// and passes every acknowledgement to `on_ack(thread, i)`, including those sent before the
// kill but not yet read.
template <typename Child, typename OnAck>
KillResult ForkAndKillAfterAcks(Child child, int min_acks, OnAck on_ack) {
  KillResult r;
  int fds[2];
  if (::pipe(fds) != 0) return r;
  const pid_t pid = ::fork();
  if (pid < 0) return r;
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1]);
    ::_exit(0);
  }
  ::close(fds[1]);
  int32_t msg[2];
  auto read_one = [&] {
    if (::read(fds[0], msg, sizeof(msg)) != sizeof(msg)) return false;
    on_ack(msg[0], msg[1]);
    ++r.acks;
    return true;
  };
  while (r.acks < min_acks && read_one()) {
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &r.status, 0);
  while (read_one()) {
  }
  ::close(fds[0]);
  return r;
}

// A real process crash: a child logs records and acknowledges each over a pipe once Log()
// returned; the parent SIGKILLs it mid-stream. Reopening repairs whatever the kill tore, and
// the log holds records 0..k in order with every acknowledged record present.
TEST(WriterCrashTest, SigkillMidWriteKeepsEveryAcknowledgedRecord) {
  TempDir tmp;
  int acked = -1;
  const KillResult k = ForkAndKillAfterAcks(
      [&](int ack_fd) {
        WriterOptions opts;
        opts.segment_size = 4 * kPageSize;
        auto w = Writer::Open(tmp.path(), opts);
        if (!w.ok()) ::_exit(2);
        for (int i = 0; i < 100000; ++i) {
          if (!(*w)->Log({KillRecord(i)}).ok()) ::_exit(3);
          Ack(ack_fd, 0, i);
        }
      },
      /*min_acks=*/501, [&](int32_t, int32_t i) { acked = i; });
  ASSERT_GE(acked, 500) << "child status " << k.status;

  RepairReport report;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}, &report));
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  ASSERT_GE(static_cast<int>(recs.size()), acked + 1);
  for (size_t i = 0; i < recs.size(); ++i) ASSERT_EQ(recs[i], KillRecord(static_cast<int>(i)));
}

// Group commit with concurrent callers: acknowledged records survive a SIGKILL. Threads
// log records of 1-5 pages (so one group's write spans several buffered pages and fills
// the buffer) and acknowledge each once Log() returned; after the kill every acknowledged
// record is in the log, byte-exact, each thread's records in its order, none twice.
TEST(WriterCrashTest, SigkillWithConcurrentGroupCommitsKeepsEveryAcknowledgedRecord) {
  TempDir tmp;
  constexpr int kThreads = 6;
  // Record i of thread t: TextRecord(t * 1'000'000 + i, size).
  auto rec = [](int t, int i) {
    return TextRecord(t * 1'000'000 + i, 500 + ((i * 7 + t) % 11) * 14000);
  };
  std::vector<int> acked(kThreads, -1);
  const KillResult k = ForkAndKillAfterAcks(
      [&](int ack_fd) {
        WriterOptions opts;
        opts.segment_size = 64 * kPageSize;
        auto w = Writer::Open(tmp.path(), opts);
        if (!w.ok()) ::_exit(2);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
          threads.emplace_back([&, t] {
            for (int i = 0; i < 100000; ++i) {
              if (!(*w)->Log({rec(t, i)}).ok()) ::_exit(3);
              Ack(ack_fd, t, i);
            }
          });
        }
        for (auto& th : threads) th.join();
      },
      /*min_acks=*/600, [&](int32_t t, int32_t i) { acked[t] = std::max(acked[t], i); });
  ASSERT_GE(k.acks, 600) << "child status " << k.status;

  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}));
  STRATA_ASSERT_OK_AND_ASSIGN(auto recs, ReadAll(tmp.path()));
  std::vector<int> next(kThreads, 0);
  for (const std::string& r : recs) {
    // The record's index is in its text; find whose it is by trying the next expected one.
    bool matched = false;
    for (int t = 0; t < kThreads && !matched; ++t) {
      if (r == rec(t, next[t])) {
        ++next[t];
        matched = true;
      }
    }
    ASSERT_TRUE(matched) << "record out of order, duplicated or corrupt: " << r.substr(0, 40);
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_GT(next[t], acked[t]) << "thread " << t << " lost acknowledged record " << acked[t];
  }
}

}  // namespace
}  // namespace strata::tsdb::wal
