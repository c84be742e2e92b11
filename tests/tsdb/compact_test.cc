// Compaction: the planner against Prometheus 2.42's LeveledCompactor.plan rules, the block
// merge (verbatim chunks, vertical merge with Prometheus's duplicate rule and 120-sample
// chunks, tombstones, meta.json compaction fields), its crash safety under injected faults,
// and the DB's use of both (overlapping blocks, parents deleted at Open).
#include "strata/tsdb/compact.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "strata/tsdb/block/block_writer.h"
#include "strata/tsdb/db.h"
#include "tsdb/db_testing.h"
#include "testing/fault_fs.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace strata::tsdb {
namespace {

using ::testing::ElementsAre;
using SeriesMap = std::map<std::string, std::vector<model::Sample>>;

constexpr int64_t kHour = 3600 * 1000;

block::BlockMeta Meta(int64_t mint, int64_t maxt, int level = 1) {
  block::BlockMeta m;
  m.ulid = block::NewUlid(static_cast<uint64_t>(1000 + mint));
  m.min_time = mint;
  m.max_time = maxt;
  m.compaction.level = level;
  m.compaction.sources = {m.ulid};
  m.stats.num_series = 10;
  return m;
}

PlanOptions Ranges2h() {
  PlanOptions o;
  o.ranges = CompactionRanges(2 * kHour, 31LL * 24 * kHour);
  return o;
}

TEST(CompactionRangesTest, ExponentialUpToMaxDuration) {
  EXPECT_THAT(ExponentialBlockRanges(2, 4, 3), ElementsAre(2, 6, 18, 54));
  EXPECT_THAT(CompactionRanges(2 * kHour, 24 * kHour), ElementsAre(2 * kHour, 6 * kHour, 18 * kHour));
  // Prometheus's server: 2h * 3^i cut at the 31d (744h) cap: 486h fits, 1458h does not.
  EXPECT_EQ(CompactionRanges(2 * kHour, 31LL * 24 * kHour).size(), 6u);
  EXPECT_THAT(CompactionRanges(2 * kHour, 2 * kHour), ElementsAre(2 * kHour));
}

TEST(PlanCompactionTest, OverlappingBlocksComeFirst) {
  // [0,2h) [4h,6h) [5h,7h) [6h,8h) [8h,10h) [10h,12h): the first overlapping run is
  // [4h,6h) [5h,7h) [6h,8h) (the third overlaps the second), although [0,6h) could be
  // leveled too.
  std::vector<block::BlockMeta> m = {Meta(0, 2 * kHour),           Meta(8 * kHour, 10 * kHour),
                                     Meta(5 * kHour, 7 * kHour),   Meta(4 * kHour, 6 * kHour),
                                     Meta(6 * kHour, 8 * kHour),   Meta(10 * kHour, 12 * kHour)};
  EXPECT_THAT(PlanCompaction(m, Ranges2h()), ElementsAre(3, 2, 4));
  // Without vertical compaction the leveled step runs as upstream's would: [0,2h) and
  // [4h,6h) fill the 6h window.
  PlanOptions no_overlap = Ranges2h();
  no_overlap.enable_overlapping_compaction = false;
  EXPECT_THAT(PlanCompaction(m, no_overlap), ElementsAre(0, 3));
}

TEST(PlanCompactionTest, LeveledLeavesOutTheNewestBlock) {
  std::vector<block::BlockMeta> m = {Meta(0, 2 * kHour), Meta(2 * kHour, 4 * kHour),
                                     Meta(4 * kHour, 6 * kHour)};
  // Without the newest, [0,2h) [2h,4h) neither fill 6h nor end before the last remaining
  // block starts (selectDirs's highTime is 2h): nothing yet.
  EXPECT_TRUE(PlanCompaction(m, Ranges2h()).empty());
  m.push_back(Meta(6 * kHour, 8 * kHour));
  EXPECT_THAT(PlanCompaction(m, Ranges2h()), ElementsAre(0, 1, 2));
  // Two blocks only: the older one alone is never a group.
  std::vector<block::BlockMeta> two = {Meta(0, 2 * kHour), Meta(2 * kHour, 4 * kHour)};
  EXPECT_TRUE(PlanCompaction(two, Ranges2h()).empty());
  // A group holding a failed block is skipped.
  m[1].compaction.failed = true;
  EXPECT_TRUE(PlanCompaction(m, Ranges2h()).empty());
}

TEST(PlanCompactionTest, NextLevelAndNegativeTimes) {
  // Three 6h blocks fill 18h: merged at the next level.
  std::vector<block::BlockMeta> m = {Meta(0, 6 * kHour, 2), Meta(6 * kHour, 12 * kHour, 2),
                                     Meta(12 * kHour, 18 * kHour, 2),
                                     Meta(18 * kHour, 20 * kHour)};
  EXPECT_THAT(PlanCompaction(m, Ranges2h()), ElementsAre(0, 1, 2));
  // Negative times align with Go's splitByRange: [-6h,-4h) [-4h,-2h) [-2h,0) fill [-6h,0).
  std::vector<block::BlockMeta> neg = {Meta(-6 * kHour, -4 * kHour), Meta(-4 * kHour, -2 * kHour),
                                       Meta(-2 * kHour, 0), Meta(0, 2 * kHour)};
  EXPECT_THAT(PlanCompaction(neg, Ranges2h()), ElementsAre(0, 1, 2));
}

TEST(PlanCompactionTest, BlockWithManyTombstonesIsRewrittenAlone) {
  PlanOptions o = Ranges2h();  // ranges[len/2] = 2h*3^3 = 54h
  std::vector<block::BlockMeta> m = {Meta(0, 54 * kHour, 4), Meta(54 * kHour, 56 * kHour)};
  m[0].stats.num_series = 100;
  m[0].stats.num_tombstones = 5;  // 5/101 < 5%
  EXPECT_TRUE(PlanCompaction(m, o).empty());
  m[0].stats.num_tombstones = 6;  // 6/101 > 5%
  EXPECT_THAT(PlanCompaction(m, o), ElementsAre(0));
  // A small block only when it is entirely deleted (tombstones >= series).
  std::vector<block::BlockMeta> s = {Meta(0, 2 * kHour), Meta(2 * kHour, 4 * kHour)};
  s[0].stats.num_series = 3;
  s[0].stats.num_tombstones = 2;
  EXPECT_TRUE(PlanCompaction(s, o).empty());
  s[0].stats.num_tombstones = 3;
  EXPECT_THAT(PlanCompaction(s, o), ElementsAre(0));
}

TEST(CompactBlockMetasTest, PrometheusCompactionFields) {
  block::BlockMeta a = Meta(0, 2 * kHour, 1), b = Meta(2 * kHour, 4 * kHour, 2);
  const block::Ulid other = block::NewUlid(1);
  b.compaction.sources = {other, a.ulid};  // a source shared with a
  const block::Ulid out = block::NewUlid(99);
  block::BlockMeta m = CompactBlockMetas(out, std::vector<block::BlockMeta>{b, a});
  EXPECT_EQ(m.ulid, out);
  EXPECT_EQ(m.min_time, 0);
  EXPECT_EQ(m.max_time, 4 * kHour);
  EXPECT_EQ(m.compaction.level, 3);
  std::vector<block::Ulid> want = {other, a.ulid};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(m.compaction.sources, want);
  ASSERT_EQ(m.compaction.parents.size(), 2u);
  EXPECT_EQ(m.compaction.parents[0], (block::BlockDesc{b.ulid, 2 * kHour, 4 * kHour}));
  EXPECT_EQ(m.compaction.parents[1], (block::BlockDesc{a.ulid, 0, 2 * kHour}));
  EXPECT_FALSE(m.compaction.deletable);
  EXPECT_FALSE(m.compaction.failed);
}

// --- Merging real blocks -------------------------------------------------------------------

model::Labels L(const std::string& name, int i) {
  return model::Labels::FromPairs({{"__name__", name}, {"i", std::to_string(i)}});
}

std::vector<model::Sample> Range(int64_t from, int64_t to, int64_t step, double base) {
  std::vector<model::Sample> out;
  for (int64_t t = from; t < to; t += step) out.push_back({t, base + static_cast<double>(t) / 1000});
  return out;
}

std::shared_ptr<block::Block> WriteBlock(const std::string& dir,
                                         const std::map<model::Labels, std::vector<model::Sample>>& s,
                                         int64_t mint, int64_t maxt) {
  block::BlockWriterOptions o;
  o.min_time = mint;
  o.max_time = maxt;
  block::BlockWriter w(*base::DefaultFileSystem(), dir, o);
  for (const auto& [l, v] : s) EXPECT_TRUE(w.AddSeries(l, v).ok());
  auto m = w.Flush();
  EXPECT_TRUE(m.ok()) << m.status();
  auto b = block::Block::Open(*base::DefaultFileSystem(), dir + "/" + m->ulid.ToString());
  EXPECT_TRUE(b.ok()) << b.status();
  return *b;
}

SeriesMap ReadAll(block::Block& b) {
  auto q = b.NewQuerier(INT64_MIN, INT64_MAX);
  EXPECT_TRUE(q.ok());
  if (!q.ok()) return {};
  auto m = model::Matcher::Create(model::MatchType::kRegexMatch, "__name__", ".+");
  return dbtest::Drain(*(*q)->Select({*m}));
}

struct ChunkBytes {
  int64_t mint, maxt;
  std::string data;
  friend bool operator==(const ChunkBytes&, const ChunkBytes&) = default;
};

// The chunks of every series: label string -> chunks in index order.
std::map<std::string, std::vector<ChunkBytes>> Chunks(const block::Block& b) {
  std::map<std::string, std::vector<ChunkBytes>> out;
  auto p = b.index().AllPostings();
  EXPECT_TRUE(p.ok());
  model::Labels lset;
  std::vector<index::ChunkMeta> metas;
  while ((*p)->Next()) {
    EXPECT_TRUE(b.index().Series((*p)->At(), &lset, &metas).ok());
    auto& v = out[lset.ToString()];
    for (const auto& c : metas) {
      auto cd = b.chunks().Chunk(c.ref);
      EXPECT_TRUE(cd.ok());
      v.push_back({c.min_time, c.max_time, std::string(cd->data)});
    }
  }
  return out;
}

model::SeriesRef RefOf(const block::Block& b, const model::Labels& want) {
  auto p = b.index().AllPostings();
  model::Labels lset;
  std::vector<index::ChunkMeta> metas;
  while ((*p)->Next()) {
    EXPECT_TRUE(b.index().Series((*p)->At(), &lset, &metas).ok());
    if (lset == want) return (*p)->At();
  }
  ADD_FAILURE() << "no series " << want.ToString();
  return 0;
}

std::shared_ptr<block::Block> Open(const std::string& dir, const block::BlockMeta& m) {
  auto b = block::Block::Open(*base::DefaultFileSystem(), dir + "/" + m.ulid.ToString());
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : nullptr;
}

TEST(CompactBlocksTest, NonOverlappingBlocksCopyChunksVerbatim) {
  testing::TempDir tmp;
  std::vector<std::shared_ptr<block::Block>> in;
  SeriesMap want;
  for (int k = 0; k < 3; ++k) {
    std::map<model::Labels, std::vector<model::Sample>> s;
    for (int i = 0; i < 4; ++i) {
      if (i == 3 && k != 1) continue;  // series 3 only in the middle block
      s[L("m", i)] = Range(k * 2 * kHour, (k + 1) * 2 * kHour, 15000, i);
      auto& w = want[L("m", i).ToString()];
      w.insert(w.end(), s[L("m", i)].begin(), s[L("m", i)].end());
    }
    in.push_back(WriteBlock(tmp.path(), s, k * 2 * kHour, (k + 1) * 2 * kHour));
  }
  STRATA_ASSERT_OK_AND_ASSIGN(block::BlockMeta m,
                              CompactBlocks(*base::DefaultFileSystem(), in, tmp.path()));
  auto out = Open(tmp.path(), m);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->meta(), m);
  EXPECT_EQ(m.min_time, 0);
  EXPECT_EQ(m.max_time, 6 * kHour);
  EXPECT_EQ(m.compaction.level, 2);
  ASSERT_EQ(m.compaction.parents.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(m.compaction.parents[k].ulid, in[k]->meta().ulid);
    EXPECT_EQ(m.compaction.parents[k].min_time, in[k]->meta().min_time);
    EXPECT_EQ(m.compaction.parents[k].max_time, in[k]->meta().max_time);
  }
  EXPECT_EQ(m.stats.num_series, 4u);
  uint64_t samples = 0;
  for (const auto& [k, v] : want) samples += v.size();
  EXPECT_EQ(m.stats.num_samples, samples);
  EXPECT_EQ(ReadAll(*out), want);
  // Chunks are the inputs' chunks, byte for byte, concatenated in time order.
  auto got = Chunks(*out);
  for (const auto& [lset, chunks] : got) {
    std::vector<ChunkBytes> expect;
    for (const auto& b : in) {
      auto c = Chunks(*b);
      auto it = c.find(lset);
      if (it != c.end()) expect.insert(expect.end(), it->second.begin(), it->second.end());
    }
    EXPECT_EQ(chunks, expect) << lset;
  }
  // The empty tombstones file as Prometheus writes it into every compacted block.
  std::ifstream f(out->dir() + "/tombstones", std::ios::binary);
  std::string ts((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(ts, std::string("\x01\x30\xba\x30\x01\x00\x00\x00\x00", 9));
}

TEST(CompactBlocksTest, OverlappingChunksMergeWithPrometheusDuplicateRule) {
  testing::TempDir tmp;
  // Block a: t = 0, 10s, ... 990s (100 samples, one chunk), value 1000 + t/1000.
  // Block b: t = 500s .. 1490s (100 samples, one chunk), value 5000 + t/1000: the 50
  // timestamps 500s .. 990s exist in both with different values.
  auto a = WriteBlock(tmp.path(), {{L("m", 0), Range(0, 1000000, 10000, 1000)}}, 0, 1000000);
  auto b = WriteBlock(tmp.path(), {{L("m", 0), Range(500000, 1500000, 10000, 5000)},
                                   {L("m", 1), Range(500000, 600000, 5000, 0)}},
                      500000, 1500000);
  ASSERT_EQ(Chunks(*a)[L("m", 0).ToString()].size(), 1u);
  ASSERT_EQ(Chunks(*b)[L("m", 0).ToString()].size(), 1u);
  std::vector<std::shared_ptr<block::Block>> in = {a, b};
  STRATA_ASSERT_OK_AND_ASSIGN(block::BlockMeta m,
                              CompactBlocks(*base::DefaultFileSystem(), in, tmp.path()));
  EXPECT_EQ(m.min_time, 0);
  EXPECT_EQ(m.max_time, 1500000);
  EXPECT_EQ(m.compaction.level, 2);
  auto out = Open(tmp.path(), m);
  ASSERT_NE(out, nullptr);
  SeriesMap got = ReadAll(*out);
  // Prometheus's compactChunkIterator hands ChainedSeriesMerge [b's chunk, a's chunk] (the
  // overlapping ones first, the earliest last), and chainSampleIterator starts on b with a
  // in its heap. At 500s a, being current, meets b in the heap and Go's heap pops b; from
  // then on the duplicate of a is skipped right after each b sample and a is pushed behind
  // b, so b wins every shared timestamp.
  std::vector<model::Sample> want;
  for (int64_t t = 0; t < 500000; t += 10000) want.push_back({t, 1000 + t / 1000.0});
  for (int64_t t = 500000; t < 1500000; t += 10000) want.push_back({t, 5000 + t / 1000.0});
  EXPECT_EQ(got[L("m", 0).ToString()], want);
  EXPECT_EQ(got[L("m", 1).ToString()].size(), 20u);
  // Merged chunks hold 120 samples (seriesToChunkEncoder), the last one the rest.
  auto chunks = Chunks(*out)[L("m", 0).ToString()];
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].mint, 0);
  EXPECT_EQ(chunks[0].maxt, want[119].t);
  EXPECT_EQ(chunks[1].mint, want[120].t);
  EXPECT_EQ(chunks[1].maxt, 1490000);
  chunkenc::XorIterator it(chunks[1].data);
  size_t n = 0;
  while (it.Next()) ++n;
  EXPECT_EQ(n, 30u);
  EXPECT_EQ(m.stats.num_samples, want.size() + 20);
  EXPECT_EQ(m.stats.num_chunks, 3u);
  // Series 1 did not overlap anything: its chunk is b's, verbatim.
  EXPECT_EQ(Chunks(*out)[L("m", 1).ToString()], Chunks(*b)[L("m", 1).ToString()]);
}

TEST(CompactBlocksTest, IdenticalChunksAreDeduplicatedWithoutReencoding) {
  testing::TempDir tmp;
  std::map<model::Labels, std::vector<model::Sample>> s = {{L("m", 0), Range(0, 2 * kHour, 15000, 1)}};
  auto a = WriteBlock(tmp.path(), s, 0, 2 * kHour);
  auto b = WriteBlock(tmp.path(), s, 0, 2 * kHour);  // a copy under another ULID
  std::vector<std::shared_ptr<block::Block>> in = {a, b};
  STRATA_ASSERT_OK_AND_ASSIGN(block::BlockMeta m,
                              CompactBlocks(*base::DefaultFileSystem(), in, tmp.path()));
  auto out = Open(tmp.path(), m);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(Chunks(*out), Chunks(*a));
  EXPECT_EQ(m.stats.num_samples, s.begin()->second.size());
  EXPECT_EQ(m.compaction.sources.size(), 2u);
}

TEST(CompactBlocksTest, TombstonesDropSamplesAndReencodeOnlyCutChunks) {
  testing::TempDir tmp;
  base::FileSystem& fs = *base::DefaultFileSystem();
  // Series 0: 480 samples, 4 chunks of 120 (15s step over 2h: the head cuts at 30 samples'
  // estimate into 4 chunks). Series 1: deleted entirely. Series 2: untouched.
  std::map<model::Labels, std::vector<model::Sample>> s = {
      {L("m", 0), Range(0, 2 * kHour, 15000, 0)},
      {L("gone", 1), Range(0, 2 * kHour, 15000, 1)},
      {L("m", 2), Range(0, 2 * kHour, 15000, 2)}};
  auto b0 = WriteBlock(tmp.path(), s, 0, 2 * kHour);
  auto before = Chunks(*b0);
  const auto& c0 = before[L("m", 0).ToString()];
  ASSERT_GE(c0.size(), 3u);
  block::Tombstones ts;
  // Cut the middle of chunk 1; delete chunk 2 wholly.
  const int64_t cut_lo = c0[1].mint + 15000 * 3, cut_hi = c0[1].mint + 15000 * 5;
  ts.Add(RefOf(*b0, L("m", 0)), {cut_lo, cut_hi});
  ts.Add(RefOf(*b0, L("m", 0)), {c0[2].mint, c0[2].maxt});
  ts.Add(RefOf(*b0, L("gone", 1)), {INT64_MIN, INT64_MAX});
  STRATA_ASSERT_OK(block::WriteTombstones(fs, b0->dir(), ts));
  STRATA_ASSERT_OK_AND_ASSIGN(auto b, block::Block::Open(fs, b0->dir()));
  std::vector<std::shared_ptr<block::Block>> in = {b};
  STRATA_ASSERT_OK_AND_ASSIGN(block::BlockMeta m, CompactBlocks(fs, in, tmp.path()));
  auto out = Open(tmp.path(), m);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(m.compaction.level, 2);
  EXPECT_EQ(m.compaction.parents.size(), 1u);
  EXPECT_EQ(m.stats.num_tombstones, 0u);
  SeriesMap got = ReadAll(*out);
  EXPECT_EQ(got, ReadAll(*b));  // what queries saw before is exactly what the block holds
  EXPECT_EQ(got.count(L("gone", 1).ToString()), 0u);
  auto after = Chunks(*out);
  const auto& o0 = after[L("m", 0).ToString()];
  ASSERT_EQ(o0.size(), c0.size() - 1);
  EXPECT_EQ(o0[0], c0[0]);          // untouched: verbatim
  EXPECT_NE(o0[1].data, c0[1].data);  // cut: re-encoded
  EXPECT_EQ(o0[1].mint, c0[1].mint);
  for (size_t i = 2; i < o0.size(); ++i) EXPECT_EQ(o0[i], c0[i + 1]);
  EXPECT_EQ(after[L("m", 2).ToString()], before[L("m", 2).ToString()]);
  // The dropped series' symbols stay in the symbol table, as Prometheus's union of symbols.
  const auto& syms = out->index().Symbols();
  EXPECT_NE(std::find(syms.begin(), syms.end(), "gone"), syms.end());
}

TEST(CompactBlocksTest, CompactionSectionCanBeGivenUpFront) {
  testing::TempDir tmp;
  auto b = WriteBlock(tmp.path(), {{L("m", 0), Range(0, kHour, 15000, 0)}}, 0, 2 * kHour);
  CompactOptions o;
  o.ulid = block::NewUlid(5);
  block::BlockMetaCompaction c;
  c.level = 1;
  c.sources = {*o.ulid};
  c.parents = {{b->meta().ulid, 0, 2 * kHour}};
  o.compaction = c;
  std::vector<std::shared_ptr<block::Block>> in = {b};
  STRATA_ASSERT_OK_AND_ASSIGN(block::BlockMeta m,
                              CompactBlocks(*base::DefaultFileSystem(), in, tmp.path(), o));
  EXPECT_EQ(m.ulid, *o.ulid);
  EXPECT_EQ(m.compaction, c);
  auto out = Open(tmp.path(), m);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->meta().compaction, c);  // on disk as given, written before the rename
}

TEST(CompactBlocksTest, EverythingDeletedWritesNoBlock) {
  testing::TempDir tmp;
  base::FileSystem& fs = *base::DefaultFileSystem();
  auto b0 = WriteBlock(tmp.path(), {{L("m", 0), Range(0, kHour, 15000, 0)}}, 0, 2 * kHour);
  block::Tombstones ts;
  ts.Add(RefOf(*b0, L("m", 0)), {0, kHour});
  STRATA_ASSERT_OK(block::WriteTombstones(fs, b0->dir(), ts));
  STRATA_ASSERT_OK_AND_ASSIGN(auto b, block::Block::Open(fs, b0->dir()));
  std::vector<std::shared_ptr<block::Block>> in = {b};
  STRATA_ASSERT_OK_AND_ASSIGN(block::BlockMeta m, CompactBlocks(fs, in, tmp.path()));
  EXPECT_EQ(m.stats.num_samples, 0u);
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub(m.ulid.ToString())));
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub(m.ulid.ToString() + ".tmp-for-creation")));
}

TEST(CompactBlocksTest, FailedWriteLeavesNoBlockAndNoTemporaryDirectory) {
  testing::TempDir tmp;
  std::vector<std::shared_ptr<block::Block>> in = {
      WriteBlock(tmp.path(), {{L("m", 0), Range(0, 2 * kHour, 15000, 0)}}, 0, 2 * kHour),
      WriteBlock(tmp.path(), {{L("m", 0), Range(2 * kHour, 4 * kHour, 15000, 0)}}, 2 * kHour,
                 4 * kHour)};
  const auto before = std::distance(std::filesystem::directory_iterator(tmp.path()), {});
  for (int n = 1; n <= 6; ++n) {
    SCOPED_TRACE(n);
    testing::FaultFileSystem ffs(base::DefaultFileSystem());
    ffs.FailNthAppend(n, 3);
    auto m = CompactBlocks(ffs, in, tmp.path());
    if (m.ok()) break;  // fewer appends than n: the write went through
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp.path()), {}), before);
  }
}

// --- The DB ---------------------------------------------------------------------------------

SeriesMap QueryDB(DB& db) {
  SeriesMap out;
  auto q = db.NewQuerier(INT64_MIN, INT64_MAX);
  EXPECT_TRUE(q.ok());
  auto m = model::Matcher::Create(model::MatchType::kRegexMatch, "__name__", ".+");
  auto ss = (*q)->Select({*m});
  while (ss->Next()) {
    auto it = ss->At().Iterator();
    auto& v = out[ss->At().labels().ToString()];
    while (it->Next()) v.push_back(it->At());
  }
  EXPECT_TRUE(ss->status().ok()) << ss->status();
  return out;
}

TEST(DBCompactionTest, OverlappingBlocksAreCompactedVertically) {
  testing::TempDir tmp;
  // A backfill left [0,2h) overlapping [1h,3h) (e.g. copied in by a user).
  WriteBlock(tmp.path(), {{L("m", 0), Range(0, 2 * kHour, 60000, 0)}}, 0, 2 * kHour);
  WriteBlock(tmp.path(), {{L("m", 0), Range(kHour + 30000, 3 * kHour, 60000, 0)}}, kHour,
             3 * kHour);
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  const SeriesMap before = QueryDB(*db);
  ASSERT_EQ(before.begin()->second.size(), 120u + 120u);
  STRATA_ASSERT_OK(db->Compact());
  auto blocks = db->Blocks();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0]->meta().min_time, 0);
  EXPECT_EQ(blocks[0]->meta().max_time, 3 * kHour);
  EXPECT_EQ(blocks[0]->meta().compaction.level, 2);
  EXPECT_EQ(blocks[0]->meta().stats.num_samples, 240u);
  EXPECT_EQ(QueryDB(*db), before);
  EXPECT_EQ(db->Stats().blocks_merged, 1u);
}

TEST(DBCompactionTest, OpenFinishesACompactionInterruptedBeforeDeletingItsInputs) {
  testing::TempDir tmp;
  base::FileSystem& fs = *base::DefaultFileSystem();
  std::vector<std::shared_ptr<block::Block>> in;
  for (int k = 0; k < 3; ++k) {
    in.push_back(WriteBlock(tmp.path(),
                            {{L("m", 0), Range(k * 2 * kHour, (k + 1) * 2 * kHour, 60000, 0)}},
                            k * 2 * kHour, (k + 1) * 2 * kHour));
  }
  // The state a crash right after the output's rename leaves: output and inputs side by
  // side. One input is even half deleted (its index gone), which must not fail Open.
  STRATA_ASSERT_OK_AND_ASSIGN(block::BlockMeta m, CompactBlocks(fs, in, tmp.path()));
  std::filesystem::remove(in[1]->dir() + "/index");
  // A block a compaction found empty and marked deletable before the crash.
  auto del = WriteBlock(tmp.path(), {{L("m", 9), Range(7 * kHour, 8 * kHour, 60000, 0)}},
                        6 * kHour, 8 * kHour);
  block::BlockMeta dm = del->meta();
  dm.compaction.deletable = true;
  STRATA_ASSERT_OK(block::WriteMeta(fs, del->dir(), dm));
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  auto blocks = db->Blocks();
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0]->meta().ulid, m.ulid);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    names.push_back(e.path().filename());
  }
  std::sort(names.begin(), names.end());
  EXPECT_THAT(names, ElementsAre(m.ulid.ToString(), "lock", "wal"));
  EXPECT_EQ(db->Stats().removed_leftovers.size(), 4u);
  EXPECT_EQ(QueryDB(*db).begin()->second.size(), 360u);
}

TEST(DBCompactionTest, ReadOnlyOpenLeavesSupersededBlocksOnDiskButUnused) {
  testing::TempDir tmp;
  base::FileSystem& fs = *base::DefaultFileSystem();
  std::vector<std::shared_ptr<block::Block>> in = {
      WriteBlock(tmp.path(), {{L("m", 0), Range(0, 2 * kHour, 60000, 0)}}, 0, 2 * kHour),
      WriteBlock(tmp.path(), {{L("m", 0), Range(2 * kHour, 4 * kHour, 60000, 0)}}, 2 * kHour,
                 4 * kHour)};
  STRATA_ASSERT_OK_AND_ASSIGN(block::BlockMeta m, CompactBlocks(fs, in, tmp.path()));
  DBOptions o;
  o.read_only = true;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual(o)));
  ASSERT_EQ(db->Blocks().size(), 1u);
  EXPECT_EQ(db->Blocks()[0]->meta().ulid, m.ulid);
  EXPECT_TRUE(std::filesystem::exists(in[0]->dir()));
}

TEST(DBCompactionTest, BlocksWithTombstonesAreMergedWithoutTheDeletedSamples) {
  testing::TempDir tmp;
  base::FileSystem& fs = *base::DefaultFileSystem();
  std::vector<std::shared_ptr<block::Block>> in;
  for (int k = 0; k < 4; ++k) {
    in.push_back(WriteBlock(tmp.path(),
                            {{L("m", 0), Range(k * 2 * kHour, (k + 1) * 2 * kHour, 60000, 0)},
                             {L("m", 1), Range(k * 2 * kHour, (k + 1) * 2 * kHour, 60000, 1)}},
                            k * 2 * kHour, (k + 1) * 2 * kHour));
  }
  block::Tombstones ts;
  ts.Add(RefOf(*in[1], L("m", 1)), {INT64_MIN, INT64_MAX});
  STRATA_ASSERT_OK(block::WriteTombstones(fs, in[1]->dir(), ts));
  in.clear();
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.path(), dbtest::Manual()));
  const SeriesMap before = QueryDB(*db);
  ASSERT_EQ(before.at(L("m", 1).ToString()).size(), 3u * 120);
  STRATA_ASSERT_OK(db->Compact());
  auto blocks = db->Blocks();
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0]->meta().max_time, 6 * kHour);
  EXPECT_TRUE(blocks[0]->tombstones().empty());
  EXPECT_EQ(blocks[0]->meta().stats.num_samples, 120u * 5);
  EXPECT_EQ(QueryDB(*db), before);
}

}  // namespace
}  // namespace strata::tsdb
