#include "strata/tsdb/wal/reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <zstd.h>

#include <string>
#include <vector>

#include "base/coding.h"
#include "base/crc32c.h"
#include "strata/tsdb/wal/writer.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tsdb/wal/wal_test_util.h"

namespace strata::tsdb::wal {
namespace {

using ::strata::testing::TempDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testutil::ReadAll;
using testutil::TextRecord;

base::FileSystem& Fs() { return *base::DefaultFileSystem(); }

// One fragment: type | len | crc32c | data.
std::string Fragment(uint8_t type, std::string_view data) {
  std::string f(1, static_cast<char>(type));
  base::PutBE16(&f, static_cast<uint16_t>(data.size()));
  base::PutBE32(&f, base::Crc32c(data));
  f.append(data);
  return f;
}

void Overwrite(const std::string& path, const std::string& data) {
  STRATA_ASSERT_OK(base::WriteFileAtomically(Fs(), path, data));
}

std::string Read(const std::string& path) {
  auto s = Fs().ReadFile(path);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : std::string();
}

// Writes segments 0..2 with `per_segment` records each (record i = TextRecord(i, 1000)) and
// closes the writer. Returns the records in order.
std::vector<std::string> WriteThreeSegments(const std::string& dir, int per_segment) {
  std::vector<std::string> recs;
  auto w = Writer::Open(dir, WriterOptions{});
  EXPECT_TRUE(w.ok()) << w.status();
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < per_segment; ++i) {
      recs.push_back(TextRecord(static_cast<int>(recs.size()), 1000));
      EXPECT_TRUE((*w)->Log({recs.back()}).ok());
    }
    if (s < 2) {
      EXPECT_TRUE((*w)->NextSegment().ok());
    }
  }
  EXPECT_TRUE((*w)->Close().ok());
  return recs;
}

TEST(ReaderTest, ReadsHandBuiltSegmentWithFragmentsAndPadding) {
  std::string seg = Fragment(kFragmentFull, "one");
  seg += Fragment(kFragmentFirst, "tw");
  seg += Fragment(kFragmentMiddle, "o-");
  seg += Fragment(kFragmentLast, "two");
  seg.resize(kPageSize, '\0');
  seg += Fragment(kFragmentFull, "three");  // the file ends mid-page: implicit padding
  auto r = Reader::FromBytes(seg);
  std::vector<std::string> got;
  std::vector<int64_t> offsets;
  while (r->Next()) {
    got.emplace_back(r->record());
    offsets.push_back(r->offset());
  }
  STRATA_ASSERT_OK(r->status());
  EXPECT_THAT(got, ElementsAre("one", "two-two", "three"));
  EXPECT_THAT(offsets, ElementsAre(0, 10, kPageSize));
}

TEST(ReaderTest, ReadsZstdRecordsWrittenByOtherEncoders) {
  // A zstd frame from the reference library with default parameters, split over two
  // fragments as Prometheus >= 2.46 writes them (flag 0x10 on both).
  const std::string rec = TextRecord(7, 5000);
  std::string z(ZSTD_compressBound(rec.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), rec.data(), rec.size(), 3));
  const std::string seg = Fragment(kZstdFlag | kFragmentFirst, z.substr(0, 10)) +
                          Fragment(kZstdFlag | kFragmentLast, z.substr(10));
  auto r = Reader::FromBytes(seg);
  ASSERT_TRUE(r->Next()) << r->status();
  EXPECT_EQ(r->record(), rec);
  EXPECT_FALSE(r->Next());
  STRATA_ASSERT_OK(r->status());
}

TEST(ReaderTest, SnappyRecordsAreDecompressedAndCorruptOnesNamed) {
  TempDir tmp;
  std::string seg = Fragment(kFragmentFull, "plain");
  // Prometheus 2.42's default: type byte 0x09 = full | Snappy.
  seg += Fragment(kSnappyFlag | kFragmentFull, "\x05\x10hello");
  seg += Fragment(kSnappyFlag | kFragmentFull, "\x09\x10hello");  // declares 9, holds 5
  Overwrite(SegmentName(tmp.path(), 3), seg);
  STRATA_ASSERT_OK_AND_ASSIGN(auto r, Reader::Open({SegmentRange{tmp.path()}}));
  ASSERT_TRUE(r->Next());
  EXPECT_EQ(r->record(), "plain");
  ASSERT_TRUE(r->Next()) << r->status();
  EXPECT_EQ(r->record(), "hello");
  EXPECT_FALSE(r->Next());
  EXPECT_THAT(r->status(), StatusIs(absl::StatusCode::kDataLoss,
                                    AllOf(HasSubstr("00000003 at offset 26"),
                                          HasSubstr("snappy: produced 5 of 9 bytes"))));
}

TEST(ReaderTest, BadZstdPayloadIsDataLoss) {
  const std::string seg = Fragment(kZstdFlag | kFragmentFull, "not zstd at all");
  auto r = Reader::FromBytes(seg);
  EXPECT_FALSE(r->Next());
  EXPECT_THAT(r->status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("offset 0: zstd")));
}

TEST(ReaderTest, ZstdBombStopsAtTheRecordLimit) {
  const std::string rec(1 << 20, 'a');
  std::string z(ZSTD_compressBound(rec.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), rec.data(), rec.size(), 3));
  ReaderOptions opts;
  opts.max_record_bytes = 1000;
  const std::string seg = Fragment(kZstdFlag | kFragmentFull, z);  // outlives the reader
  auto r = Reader::FromBytes(seg, opts);
  EXPECT_FALSE(r->Next());
  EXPECT_THAT(r->status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("limit of 1000")));
}

TEST(ReaderTest, InvalidFragmentSequencesAreDataLoss) {
  struct Case {
    std::string seg;
    std::string want;
  };
  std::string nonzero_padding = Fragment(kFragmentFull, "a");
  nonzero_padding += std::string(5, '\0') + "x";
  const std::vector<Case> cases = {
      {Fragment(kFragmentMiddle, "a"), "unexpected middle fragment at the start of a record"},
      {Fragment(kFragmentFirst, "a") + Fragment(kFragmentFull, "b"),
       "offset 8: unexpected full fragment inside a record"},
      {Fragment(0x05, "a"), "invalid fragment type byte 0x05"},
      {Fragment(0x21, "a"), "invalid fragment type byte 0x21"},
      {Fragment(kSnappyFlag | kZstdFlag | kFragmentFull, "a"), "invalid fragment type byte 0x19"},
      {nonzero_padding, "offset 13: unexpected non-zero byte 0x78 in page padding"},
      {Fragment(kFragmentFirst, "a") + Fragment(kZstdFlag | kFragmentLast, "b"),
       "disagree on compression"},
      {Fragment(kFragmentFirst, "a"), "last record is torn"},
      {Fragment(kFragmentFull, "abc").substr(0, 8), "segment ends inside a fragment of length 3"},
  };
  for (const Case& c : cases) {
    auto r = Reader::FromBytes(c.seg);
    while (r->Next()) {
    }
    EXPECT_THAT(r->status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr(c.want)))
        << "want " << c.want;
  }
  // A fragment may not run past its page.
  std::string seg = Fragment(kFragmentFull, std::string(kPageSize - 30, 'y'));  // ends at -23
  seg += Fragment(kFragmentFull, std::string(30, 'z'));              // would end past the page
  auto r = Reader::FromBytes(seg);
  ASSERT_TRUE(r->Next());
  EXPECT_FALSE(r->Next());
  EXPECT_THAT(r->status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("crosses a page boundary")));
}

// Corruption outcome 1: a bit flipped in the middle of the WAL is DataLoss naming the
// segment and offset, both for readers and for Writer::Open (which refuses to "repair" it).
TEST(ReaderCorruptionTest, BitFlipInTheMiddleIsDataLossNamingSegmentAndOffset) {
  TempDir tmp;
  WriteThreeSegments(tmp.path(), 10);
  // Record 3 of segment 1 starts at 3 * 1007; flip a bit in its data.
  const std::string path = SegmentName(tmp.path(), 1);
  std::string seg = Read(path);
  seg[3 * 1007 + 500] ^= 0x10;
  Overwrite(path, seg);
  auto recs = ReadAll(tmp.path());
  EXPECT_THAT(recs, StatusIs(absl::StatusCode::kDataLoss,
                             AllOf(HasSubstr("00000001 at offset 3021"), HasSubstr("crc mismatch"))));
  // Also in the newest segment, with valid records after it: not a torn tail.
  const std::string last = SegmentName(tmp.path(), 2);
  seg = Read(last);
  seg[2 * 1007 + 100] ^= 0x01;
  Overwrite(last, seg);
  EXPECT_THAT(Writer::Open(tmp.path(), WriterOptions{}),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("00000002 at offset 2014"), HasSubstr("not a torn tail"))));
  EXPECT_EQ(Read(last), seg);  // left alone
}

// Corruption outcome 2: a truncated last page is repaired on open; the report says what
// was dropped and every earlier record is intact.
TEST(ReaderCorruptionTest, TruncatedLastPageIsRepairedKeepingEarlierRecords) {
  TempDir tmp;
  std::vector<std::string> recs = WriteThreeSegments(tmp.path(), 40);  // 40 KB per segment
  // Cut segment 2 in the middle of its record 35 (which starts at 35 * 1007 = 35245 - but
  // records cross pages: compute its offset by reading).
  STRATA_ASSERT_OK_AND_ASSIGN(auto r, Reader::Open({SegmentRange{tmp.path(), 2, 2}}));
  std::vector<int64_t> offsets;
  while (r->Next()) offsets.push_back(r->offset());
  STRATA_ASSERT_OK(r->status());
  ASSERT_EQ(offsets.size(), 40u);
  const int64_t cut = offsets[35] + 500;
  const std::string path = SegmentName(tmp.path(), 2);
  STRATA_ASSERT_OK(Fs().Truncate(path, cut));
  EXPECT_THAT(ReadAll(tmp.path()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("00000002")));

  RepairReport report;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}, &report));
  EXPECT_TRUE(report.repaired);
  EXPECT_EQ(report.segment, 2);
  EXPECT_EQ(report.path, path);
  EXPECT_EQ(report.offset, offsets[35]);
  EXPECT_EQ(report.bytes_dropped, cut - offsets[35]);
  EXPECT_THAT(report.reason, HasSubstr("segment ends inside a fragment"));
  STRATA_ASSERT_OK_AND_ASSIGN(uint64_t size, Fs().FileSize(path));
  EXPECT_EQ(size % kPageSize, 0u);  // zero-filled to the page end
  STRATA_ASSERT_OK_AND_ASSIGN(auto got, ReadAll(tmp.path()));
  recs.resize(80 + 35);
  EXPECT_EQ(got, recs);
}

// Corruption outcome 3: a zero-filled tail is the end of the log; a record torn before
// zeros is repaired.
TEST(ReaderCorruptionTest, ZeroFilledTailIsTreatedAsTheEnd) {
  TempDir tmp;
  const std::vector<std::string> recs = WriteThreeSegments(tmp.path(), 5);
  const std::string path = SegmentName(tmp.path(), 2);
  std::string seg = Read(path);
  seg += std::string(3 * kPageSize + 123, '\0');  // e.g. preallocated space never written
  Overwrite(path, seg);
  STRATA_ASSERT_OK_AND_ASSIGN(auto got, ReadAll(tmp.path()));
  EXPECT_EQ(got, recs);
  RepairReport report;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}, &report));
  EXPECT_FALSE(report.repaired);
}

TEST(ReaderCorruptionTest, TornRecordFollowedByZerosIsRepaired) {
  TempDir tmp;
  std::vector<std::string> recs = WriteThreeSegments(tmp.path(), 5);
  const std::string path = SegmentName(tmp.path(), 2);
  std::string seg = Read(path);
  // Replace the end of segment 2 with the first fragment of a record whose other fragments
  // never made it to disk, then zeros over the following pages.
  seg.resize(5 * 1007);
  seg += Fragment(kFragmentFirst, std::string(kPageSize - 5 * 1007 - 7, 'q'));
  seg += std::string(2 * kPageSize, '\0');
  Overwrite(path, seg);
  RepairReport report;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}, &report));
  EXPECT_TRUE(report.repaired);
  EXPECT_EQ(report.offset, 5 * 1007);
  EXPECT_EQ(report.bytes_dropped, 3 * kPageSize - 5 * 1007);
  EXPECT_THAT(report.reason, HasSubstr("last record is torn"));
  STRATA_ASSERT_OK_AND_ASSIGN(auto got, ReadAll(tmp.path()));
  EXPECT_EQ(got, recs);
}

TEST(ReaderCorruptionTest, BadCrcInTheLastRecordIsRepaired) {
  TempDir tmp;
  std::vector<std::string> recs = WriteThreeSegments(tmp.path(), 5);
  const std::string path = SegmentName(tmp.path(), 2);
  std::string seg = Read(path);
  seg[4 * 1007 + 300] ^= 0x80;  // inside the last record; only zeros follow
  Overwrite(path, seg);
  RepairReport report;
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, Writer::Open(tmp.path(), WriterOptions{}, &report));
  EXPECT_TRUE(report.repaired);
  EXPECT_EQ(report.offset, 4 * 1007);
  EXPECT_THAT(report.reason, HasSubstr("crc mismatch"));
  recs.pop_back();
  STRATA_ASSERT_OK_AND_ASSIGN(auto got, ReadAll(tmp.path()));
  EXPECT_EQ(got, recs);
}

TEST(ReaderTest, NonSequentialSegmentsAreDataLoss) {
  TempDir tmp;
  Overwrite(SegmentName(tmp.path(), 1), "");
  Overwrite(SegmentName(tmp.path(), 3), "");
  EXPECT_THAT(Reader::Open({SegmentRange{tmp.path()}}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("00000003 follows 00000001")));
}

}  // namespace
}  // namespace strata::tsdb::wal
