// Tests of the block directory format: chunk segments, meta.json, tombstones, BlockWriter
// (byte identity with promtool 2.42's worked example) and the Block querier.
#include "strata/tsdb/block/block.h"

#include <filesystem>
#include <limits>
#include <random>

#include "block_testing.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/tsdb/block/block_writer.h"
#include "strata/tsdb/block/chunks.h"
#include "strata/tsdb/block/meta.h"
#include "strata/tsdb/block/tombstones.h"
#include "testing/status_matchers.h"

namespace strata::tsdb::block {
namespace {

using ::strata::tsdb::block::testing::Drain;
using ::strata::tsdb::block::testing::ExampleBlockDir;
using ::strata::tsdb::block::testing::ExampleSeries;
using ::strata::tsdb::block::testing::kExampleUlid;
using ::strata::tsdb::block::testing::ReadFileOrDie;
using ::strata::tsdb::block::testing::ScratchDir;
using ::strata::tsdb::block::testing::SeriesSamples;
using ::strata::tsdb::block::testing::WriteFileOrDie;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

base::FileSystem& Fs() { return *base::DefaultFileSystem(); }

model::Matcher M(model::MatchType t, const char* n, const char* v) {
  auto m = model::Matcher::Create(t, n, v);
  EXPECT_TRUE(m.ok());
  return *m;
}

std::vector<model::Sample> Regular(int64_t start, int64_t step, int n, double v0 = 0) {
  std::vector<model::Sample> out;
  for (int i = 0; i < n; ++i) out.push_back({start + i * step, v0 + i});
  return out;
}

std::vector<uint64_t> ChunkSizes(const std::vector<EncodedChunk>& chks) {
  std::vector<uint64_t> out;
  for (const auto& c : chks) out.push_back(c.num_samples);
  return out;
}

TEST(UlidTest, RoundTripsAndOrdersByTime) {
  STRATA_ASSERT_OK_AND_ASSIGN(Ulid u, Ulid::Parse(kExampleUlid));
  EXPECT_EQ(u.ToString(), kExampleUlid);
  STRATA_ASSERT_OK_AND_ASSIGN(Ulid lower, Ulid::Parse("01m7zxsk4yd4zhpgbh8g6x4w17"));
  EXPECT_EQ(lower, u);
  const Ulid a = Ulid::FromParts(1000, {}), b = Ulid::FromParts(1001, {});
  EXPECT_LT(a, b);
  EXPECT_EQ(b.time_ms(), 1001u);
  EXPECT_EQ(Ulid::FromParts(0, {}).ToString(), "00000000000000000000000000");
  std::array<uint8_t, 10> ff;
  ff.fill(0xff);
  EXPECT_EQ(Ulid::FromParts((1ull << 48) - 1, ff).ToString(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
  EXPECT_EQ(NewUlid(123456).time_ms(), 123456u);
  EXPECT_THAT(Ulid::Parse("8ZZZZZZZZZZZZZZZZZZZZZZZZZ").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overflows")));
  EXPECT_THAT(Ulid::Parse("01M7ZXSK4YD4ZHPGBH8G6X4W1U").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("position 25")));
  EXPECT_FALSE(Ulid::Parse("01M7").ok());
}

TEST(MetaTest, EncodesEveryFieldInPrometheusOrder) {
  BlockMeta m;
  m.ulid = Ulid::FromParts(1, {});
  m.min_time = -5;
  m.max_time = 7200000;
  m.stats = {10, 2, 3, 1};
  m.compaction.level = 2;
  m.compaction.sources = {Ulid::FromParts(1, {}), Ulid::FromParts(2, {})};
  m.compaction.deletable = true;
  m.compaction.parents = {{Ulid::FromParts(3, {}), 0, 10}};
  m.compaction.failed = true;
  m.compaction.hints = {"from-out-of-order"};
  const std::string text = EncodeMeta(m);
  EXPECT_EQ(text,
            "{\n\t\"ulid\": \"00000000010000000000000000\",\n\t\"minTime\": -5,\n"
            "\t\"maxTime\": 7200000,\n\t\"stats\": {\n\t\t\"numSamples\": 10,\n"
            "\t\t\"numSeries\": 2,\n\t\t\"numChunks\": 3,\n\t\t\"numTombstones\": 1\n\t},\n"
            "\t\"compaction\": {\n\t\t\"level\": 2,\n\t\t\"sources\": [\n"
            "\t\t\t\"00000000010000000000000000\",\n\t\t\t\"00000000020000000000000000\"\n"
            "\t\t],\n\t\t\"deletable\": true,\n\t\t\"parents\": [\n\t\t\t{\n"
            "\t\t\t\t\"ulid\": \"00000000030000000000000000\",\n\t\t\t\t\"minTime\": 0,\n"
            "\t\t\t\t\"maxTime\": 10\n\t\t\t}\n\t\t],\n\t\t\"failed\": true,\n"
            "\t\t\"hints\": [\n\t\t\t\"from-out-of-order\"\n\t\t]\n\t},\n\t\"version\": 1\n}");
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta back, DecodeMeta(text));
  EXPECT_EQ(back, m);
  // Zero stats and omitted fields.
  BlockMeta z;
  z.compaction.level = 1;
  EXPECT_EQ(EncodeMeta(z),
            "{\n\t\"ulid\": \"00000000000000000000000000\",\n\t\"minTime\": 0,\n"
            "\t\"maxTime\": 0,\n\t\"stats\": {},\n\t\"compaction\": {\n\t\t\"level\": 1\n\t},\n"
            "\t\"version\": 1\n}");
}

TEST(MetaTest, DecodesPromtoolMetaAndPreservesThanosSection) {
  const std::string text = ReadFileOrDie(ExampleBlockDir() + "/meta.json");
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta m, DecodeMeta(text));
  EXPECT_EQ(m.ulid.ToString(), kExampleUlid);
  EXPECT_EQ(m.max_time, 45001);
  EXPECT_EQ(m.stats, (BlockStats{5, 2, 2, 0}));
  EXPECT_EQ(EncodeMeta(m), text);

  const std::string thanos =
      text.substr(0, text.size() - 2) +
      ",\n\t\"thanos\": {\n\t\t\"labels\": {\n\t\t\t\"replica\": \"a\"\n\t\t},\n"
      "\t\t\"downsample\": {\n\t\t\t\"resolution\": 0\n\t\t},\n\t\t\"source\": \"sidecar\"\n\t}\n}";
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta t, DecodeMeta(thanos));
  EXPECT_EQ(t.thanos_json, "{\"labels\":{\"replica\":\"a\"},\"downsample\":{\"resolution\":0},\"source\":\"sidecar\"}");
  EXPECT_EQ(EncodeMeta(t), thanos);
}

TEST(MetaTest, RejectsBadMeta) {
  EXPECT_THAT(DecodeMeta("{\"ulid\": \"01M7ZXSK4YD4ZHPGBH8G6X4W17\", \"version\": 2}", "m.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("m.json: unexpected meta file version 2")));
  EXPECT_THAT(DecodeMeta("{\"version\": 1}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"ulid\"")));
  EXPECT_THAT(DecodeMeta("{\"ulid\": \"01M7ZXSK4YD4ZHPGBH8G6X4W17\", \"version\": 1, \"minTime\": \"x\"}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("minTime")));
  EXPECT_THAT(DecodeMeta("{\"ulid\": ").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset 9")));
}

TEST(TombstonesTest, EmptyFileMatchesPromtoolAndRoundTrips) {
  EXPECT_EQ(EncodeTombstones(Tombstones()), ReadFileOrDie(ExampleBlockDir() + "/tombstones"));
  Tombstones ts;
  ts.Add(4, {10, 20});
  ts.Add(4, {21, 30});  // adjacent: merges
  ts.Add(4, {50, 60});
  ts.Add(6, {std::numeric_limits<int64_t>::min(), -1});
  EXPECT_THAT(ts.Get(4), ElementsAre(Interval{10, 30}, Interval{50, 60}));
  EXPECT_EQ(ts.NumIntervals(), 3u);
  ts.Add(4, {25, 55});
  EXPECT_THAT(ts.Get(4), ElementsAre(Interval{10, 60}));
  const std::string enc = EncodeTombstones(ts);
  STRATA_ASSERT_OK_AND_ASSIGN(Tombstones back, DecodeTombstones(enc, "t"));
  EXPECT_EQ(back, ts);
  for (size_t i = 0; i < enc.size(); ++i) {
    std::string bad = enc;
    bad[i] ^= 0x20;
    EXPECT_THAT(DecodeTombstones(bad, "t").status(),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("tombstones t: "))) << i;
    EXPECT_FALSE(DecodeTombstones(std::string_view(enc).substr(0, i), "t").ok()) << i;
  }
}

TEST(CutChunksTest, CutsAsThePrometheus242Head) {
  // 1 s samples: after 30 samples the end is re-estimated to 0 + 7.2e6 / 62 = 116129 ms.
  auto chks = CutChunks(Regular(0, 1000, 400), kDefaultChunkRange, {.prometheus_2_42 = true});
  ASSERT_GE(chks.size(), 2u);
  EXPECT_EQ(chks[0].num_samples, 117u);
  EXPECT_EQ(chks[0].max_time, 116000);
  EXPECT_EQ(chks[1].min_time, 117000);
  // A rate increase after the estimate (n <= 1 keeps the window end): the 240-sample cap
  // cuts; the next chunks re-estimate at the fast rate (~120 samples each).
  std::vector<model::Sample> s = Regular(0, 60000, 30);
  for (auto x : Regular(30 * 60000, 1, 500)) s.push_back(x);
  EXPECT_THAT(ChunkSizes(CutChunks(s, kDefaultChunkRange, {})), ElementsAre(240, 120, 120, 50));
  // The aligned 2h window ends a chunk: 15 min samples from 1h to 3h.
  EXPECT_THAT(ChunkSizes(CutChunks(Regular(3600000, 900000, 9), kDefaultChunkRange, {})),
              ElementsAre(4, 5));
  // Negative timestamps: Go's truncating division gives -7200001 the window end 0, so -1
  // joins its chunk and 0 starts a new one.
  EXPECT_THAT(ChunkSizes(CutChunks({{-7200001, 1}, {-1, 2}, {0, 3}}, kDefaultChunkRange, {})),
              ElementsAre(2, 1));
}

TEST(ChunksTest, WritesSegmentsAndReadsBackWithCrc) {
  ScratchDir dir("chunks");
  std::vector<std::string> datas;
  for (int i = 0; i < 40; ++i) datas.push_back(std::string(20 + i, static_cast<char>('a' + i % 26)));
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, ChunkWriter::Create(Fs(), dir / "chunks", 300));
  std::vector<uint64_t> all_refs, refs;
  for (size_t i = 0; i < datas.size(); i += 2) {
    std::vector<ChunkData> batch = {{chunkenc::Encoding::kXor, datas[i]},
                                    {chunkenc::Encoding::kXor, datas[i + 1]}};
    STRATA_ASSERT_OK(w->WriteChunks(batch, &refs));
    all_refs.insert(all_refs.end(), refs.begin(), refs.end());
  }
  STRATA_ASSERT_OK(w->Close());
  EXPECT_EQ(all_refs[0], 8u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto r, ChunkReader::Open(Fs(), dir / "chunks"));
  EXPECT_GT(r->num_segments(), 3u);
  for (size_t i = 0; i < datas.size(); ++i) {
    STRATA_ASSERT_OK_AND_ASSIGN(ChunkData c, r->Chunk(all_refs[i]));
    EXPECT_EQ(c.data, datas[i]);
    EXPECT_LE(all_refs[i] & 0xffffffff, 300u);
  }
  for (const auto& e : std::filesystem::directory_iterator(dir / "chunks")) {
    EXPECT_LE(e.file_size(), 300u) << e.path();
  }
  EXPECT_THAT(r->Chunk((uint64_t{99} << 32) | 8).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("segment file 100")));
  EXPECT_THAT(r->Chunk(9).status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("000001")));
}

TEST(BlockWriterTest, ReproducesPromtoolExampleByteForByte) {
  ScratchDir dir("blocks");
  BlockWriterOptions opts;
  STRATA_ASSERT_OK_AND_ASSIGN(opts.ulid, Ulid::Parse(kExampleUlid));
  BlockWriter w(Fs(), dir.path(), opts);
  // Added in reverse order and with shuffled samples: the writer sorts.
  auto series = ExampleSeries();
  STRATA_ASSERT_OK(w.AddSeries(series[1].first, series[1].second));
  auto s0 = series[0].second;
  std::reverse(s0.begin(), s0.end());
  STRATA_ASSERT_OK(w.AddSeries(series[0].first, s0));
  STRATA_ASSERT_OK(w.AddSeries(model::Labels{{"__name__", "empty"}}, {}));
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta meta, w.Flush());
  EXPECT_EQ(meta.ulid.ToString(), kExampleUlid);
  const std::string got = dir / kExampleUlid;
  for (const char* f : {"index", "chunks/000001", "tombstones", "meta.json"}) {
    EXPECT_EQ(ReadFileOrDie(got + "/" + f), ReadFileOrDie(ExampleBlockDir() + "/" + f)) << f;
  }
  EXPECT_FALSE(std::filesystem::exists(got + ".tmp-for-creation"));
  EXPECT_THAT(w.Flush().status(), StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

TEST(BlockWriterTest, RejectsBadInput) {
  ScratchDir dir("blocks");
  {
    BlockWriter w(Fs(), dir.path());
    EXPECT_THAT(w.AddSeries(model::Labels{{"a", "b"}}, {{1, 1}, {1, 2}}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timestamp 1")));
    STRATA_ASSERT_OK(w.AddSeries(model::Labels{{"a", "b"}}, {{1, 1}, {1, 1}}));
    STRATA_ASSERT_OK(w.AddSeries(model::Labels{{"a", "b"}}, {{2, 1}}));
    EXPECT_THAT(w.Flush().status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  }
  {
    BlockWriter w(Fs(), dir.path(), {.min_time = 0, .max_time = 10});
    STRATA_ASSERT_OK(w.AddSeries(model::Labels{{"a", "b"}}, {{10, 1}}));
    EXPECT_THAT(w.Flush().status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside")));
  }
  {
    BlockWriter w(Fs(), dir.path());
    EXPECT_THAT(w.Flush().status(), StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// sorted_series writes each series as it comes: the same bytes as the sorting mode, series
// out of order refused, and a writer dropped before Flush leaves nothing behind.
TEST(BlockWriterTest, SortedSeriesStreamTheSameBytes) {
  ScratchDir dir("blocks");
  BlockWriterOptions opts;
  opts.sorted_series = true;
  STRATA_ASSERT_OK_AND_ASSIGN(opts.ulid, Ulid::Parse(kExampleUlid));
  {
    BlockWriter w(Fs(), dir.path(), opts);
    auto series = ExampleSeries();
    ASSERT_LT(series[0].first, series[1].first);
    STRATA_ASSERT_OK(w.AddSeries(series[0].first, series[0].second));
    // The first series' chunks are on disk already, in the temporary directory.
    const std::string tmp = dir / (std::string(kExampleUlid) + ".tmp-for-creation");
    EXPECT_GT(std::filesystem::file_size(tmp + "/chunks/000001"), 8u);
    EXPECT_THAT(w.AddSeries(series[0].first, series[0].second),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
    STRATA_ASSERT_OK(w.AddSeries(series[1].first, series[1].second));
    EXPECT_THAT(w.AddSeries(series[0].first, {{1, 1}}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("increasing")));
    STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta meta, w.Flush());
    EXPECT_EQ(meta.ulid.ToString(), kExampleUlid);
    const std::string got = dir / kExampleUlid;
    for (const char* f : {"index", "chunks/000001", "tombstones", "meta.json"}) {
      EXPECT_EQ(ReadFileOrDie(got + "/" + f), ReadFileOrDie(ExampleBlockDir() + "/" + f)) << f;
    }
    EXPECT_FALSE(std::filesystem::exists(tmp));
    std::filesystem::remove_all(got);
  }
  {
    opts.min_time = 0;
    opts.max_time = 10;
    BlockWriter w(Fs(), dir.path(), opts);
    STRATA_ASSERT_OK(w.AddSeries(model::Labels{{"a", "b"}}, {{5, 1}}));
    EXPECT_THAT(w.AddSeries(model::Labels{{"a", "c"}}, {{10, 1}}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside")));
    // Dropped without Flush: the temporary directory goes with the writer.
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

// A small block with a fixed seed; returns its directory.
std::vector<SeriesSamples> RandomSeries(uint32_t seed, int nseries, int max_samples) {
  std::mt19937 rng(seed);
  std::vector<SeriesSamples> out;
  for (int i = 0; i < nseries; ++i) {
    SeriesSamples s;
    s.lset = model::Labels{{"__name__", i % 3 == 0 ? "a" : "b"},
                           {"i", fmt::format("{}", i)},
                           {"zone", i % 2 == 0 ? "east" : "west"}};
    int64_t t = static_cast<int64_t>(rng() % 100000);
    const int n = 1 + static_cast<int>(rng() % max_samples);
    for (int k = 0; k < n; ++k) {
      t += 1 + static_cast<int64_t>(rng() % 30000);
      s.samples.push_back({t, rng() % 4 == 0 ? static_cast<double>(rng() % 100)
                                             : std::ldexp(static_cast<double>(rng()), -20)});
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const SeriesSamples& a, const SeriesSamples& b) { return a.lset < b.lset; });
  return out;
}

std::vector<SeriesSamples> Clip(const std::vector<SeriesSamples>& in, int64_t mint, int64_t maxt) {
  std::vector<SeriesSamples> out;
  for (const auto& s : in) {
    SeriesSamples c{s.lset, {}};
    for (const auto& x : s.samples) {
      if (x.t >= mint && x.t <= maxt) c.samples.push_back(x);
    }
    if (!c.samples.empty()) out.push_back(std::move(c));
  }
  return out;
}

TEST(BlockTest, QuerierReturnsWhatWasWritten) {
  const uint32_t seed = 11;
  const auto want = RandomSeries(seed, 60, 600);
  ScratchDir dir("blocks");
  BlockWriter w(Fs(), dir.path());
  for (const auto& s : want) STRATA_ASSERT_OK(w.AddSeries(s.lset, s.samples));
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta meta, w.Flush());
  STRATA_ASSERT_OK_AND_ASSIGN(auto b, Block::Open(Fs(), dir / meta.ulid.ToString()));
  EXPECT_EQ(b->meta(), meta);
  uint64_t nsamples = 0;
  for (const auto& s : want) nsamples += s.samples.size();
  EXPECT_EQ(meta.stats.num_samples, nsamples);
  EXPECT_EQ(meta.stats.num_series, want.size());

  STRATA_ASSERT_OK_AND_ASSIGN(auto q, b->NewQuerier(meta.min_time, meta.max_time));
  auto all = q->Select({M(model::MatchType::kRegexMatch, "__name__", ".+")});
  EXPECT_EQ(Drain(*all), want) << "seed " << seed;

  // A narrower range clips samples; series without samples in range but with an overlapping
  // chunk come back empty, as in Prometheus, so compare the non-empty ones.
  const int64_t mint = meta.min_time + 200000, maxt = mint + 300000;
  STRATA_ASSERT_OK_AND_ASSIGN(auto q2, b->NewQuerier(mint, maxt));
  auto set = q2->Select({M(model::MatchType::kEqual, "zone", "east")});
  std::vector<SeriesSamples> got;
  for (auto& s : Drain(*set)) {
    if (!s.samples.empty()) got.push_back(std::move(s));
  }
  std::vector<SeriesSamples> east;
  for (const auto& s : Clip(want, mint, maxt)) {
    if (s.lset.Get("zone") == "east") east.push_back(s);
  }
  EXPECT_EQ(got, east);

  // Seek across chunks.
  auto one = q->Select({M(model::MatchType::kEqual, "i", "7")});
  ASSERT_TRUE(one->Next());
  const auto& ref = want[std::find_if(want.begin(), want.end(), [](const SeriesSamples& s) {
                           return s.lset.Get("i") == "7";
                         }) - want.begin()].samples;
  auto it = one->At().Iterator();
  for (size_t k = 0; k < ref.size(); k += 37) {
    ASSERT_TRUE(it->Seek(ref[k].t - 1 + (k == 0 ? 1 : 0)));
    EXPECT_EQ(it->At(), ref[k]);
  }
  EXPECT_FALSE(it->Seek(ref.back().t + 1));
  STRATA_EXPECT_OK(it->status());

  STRATA_ASSERT_OK_AND_ASSIGN(auto names, q->LabelNames());
  EXPECT_THAT(names, ElementsAre("__name__", "i", "zone"));
  STRATA_ASSERT_OK_AND_ASSIGN(auto zones, q->LabelValues("zone"));
  EXPECT_THAT(zones, ElementsAre("east", "west"));
  STRATA_ASSERT_OK_AND_ASSIGN(auto names_a, q->LabelValues("__name__", {M(model::MatchType::kEqual, "i", "3")}));
  EXPECT_THAT(names_a, ElementsAre("a"));
}

TEST(BlockTest, TombstonesHideDeletedSamples) {
  ScratchDir dir("blocks");
  BlockWriter w(Fs(), dir.path());
  STRATA_ASSERT_OK(w.AddSeries(model::Labels{{"__name__", "x"}}, Regular(0, 1000, 300)));
  STRATA_ASSERT_OK(w.AddSeries(model::Labels{{"__name__", "y"}}, Regular(0, 1000, 10)));
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta meta, w.Flush());
  const std::string bdir = dir / meta.ulid.ToString();
  // Series refs: offset / 16 of each series; read them from the index.
  std::vector<model::SeriesRef> refs;
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto b, Block::Open(Fs(), bdir));
    auto p = b->index().AllPostings();
    ASSERT_TRUE(p.ok());
    STRATA_ASSERT_OK(index::ExpandPostings(**p, &refs));
  }
  ASSERT_EQ(refs.size(), 2u);
  Tombstones ts;
  ts.Add(refs[0], {5000, 199000});
  ts.Add(refs[1], {0, 100000});  // all of y
  STRATA_ASSERT_OK(WriteTombstones(Fs(), bdir, ts));
  STRATA_ASSERT_OK_AND_ASSIGN(auto b, Block::Open(Fs(), bdir));
  EXPECT_EQ(b->tombstones(), ts);
  STRATA_ASSERT_OK_AND_ASSIGN(auto q, b->NewQuerier(0, 1000000));
  auto set = q->Select({M(model::MatchType::kRegexMatch, "__name__", "x|y")});
  auto got = Drain(*set);
  ASSERT_EQ(got.size(), 1u);
  std::vector<model::Sample> want = Regular(0, 1000, 5);
  for (auto s : Regular(200000, 1000, 100, 200)) want.push_back(s);
  EXPECT_EQ(got[0].samples, want);
}

// Everything a Block exposes through its querier, or the first error.
absl::StatusOr<std::vector<SeriesSamples>> ReadAll(const std::string& dir) {
  auto b = Block::Open(Fs(), dir);
  if (!b.ok()) return b.status();
  auto q = (*b)->NewQuerier(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  if (!q.ok()) return q.status();
  auto set = (*q)->Select({M(model::MatchType::kRegexMatch, "__name__", ".*")});
  std::vector<SeriesSamples> out;
  while (set->Next()) {
    SeriesSamples s{set->At().labels(), {}};
    auto it = set->At().Iterator();
    while (it->Next()) s.samples.push_back(it->At());
    if (!it->status().ok()) return it->status();
    out.push_back(std::move(s));
  }
  if (!set->status().ok()) return set->status();
  return out;
}

TEST(BlockTest, EveryCorruptedByteIsDetectedOrHarmless) {
  const uint32_t seed = 3;
  const auto want = RandomSeries(seed, 4, 40);
  ScratchDir dir("blocks");
  BlockWriterOptions opts;
  opts.ulid = Ulid::FromParts(1, {});
  BlockWriter w(Fs(), dir.path(), opts);
  for (const auto& s : want) STRATA_ASSERT_OK(w.AddSeries(s.lset, s.samples));
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta meta, w.Flush());
  const std::string bdir = dir / meta.ulid.ToString();
  STRATA_ASSERT_OK_AND_ASSIGN(auto clean, ReadAll(bdir));
  ASSERT_EQ(clean, want);

  std::mt19937 rng(seed);
  for (const std::string f : {"index", "chunks/000001", "tombstones", "meta.json"}) {
    const std::string path = bdir + "/" + f;
    const std::string good = ReadFileOrDie(path);
    int detected = 0;
    for (size_t pos = 0; pos < good.size(); ++pos) {
      std::string bad = good;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 + rng() % 255));
      WriteFileOrDie(path, bad);
      auto got = ReadAll(bdir);
      if (got.ok()) {
        // meta.json has no checksum: a changed digit can still be valid JSON. The data read
        // from the other files must be unaffected.
        EXPECT_EQ(*got, want) << f << " byte " << pos << " (seed " << seed << ")";
      } else {
        ++detected;
        EXPECT_THAT(std::string(got.status().message()), HasSubstr(f)) << got.status();
        EXPECT_TRUE(got.status().code() == absl::StatusCode::kDataLoss ||
                    got.status().code() == absl::StatusCode::kUnimplemented)
            << got.status();
      }
    }
    WriteFileOrDie(path, good);
    EXPECT_GT(detected, 0) << f;
    RecordProperty(f, detected);
  }
  // Truncation of any file.
  for (const std::string f : {"index", "chunks/000001", "tombstones"}) {
    const std::string path = bdir + "/" + f;
    const std::string good = ReadFileOrDie(path);
    for (size_t n = 0; n < good.size(); n += 1 + n / 8) {
      WriteFileOrDie(path, good.substr(0, n));
      auto got = ReadAll(bdir);
      if (got.ok()) {
        ADD_FAILURE() << f << " truncated to " << n << " bytes read without error";
      }
    }
    WriteFileOrDie(path, good);
  }
}

TEST(BlockTest, OpenNamesTheMissingFile) {
  ScratchDir dir("blocks");
  EXPECT_THAT(Block::Open(Fs(), dir / "nope").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("meta.json")));
  std::filesystem::copy(ExampleBlockDir(), dir / "b", std::filesystem::copy_options::recursive);
  std::filesystem::remove(dir / "b/index");
  EXPECT_THAT(Block::Open(Fs(), dir / "b").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("index")));
}

TEST(BlockTest, ReadsPromtoolExample) {
  STRATA_ASSERT_OK_AND_ASSIGN(auto got, ReadAll(ExampleBlockDir()));
  std::vector<SeriesSamples> want;
  for (auto& [l, s] : ExampleSeries()) want.push_back({l, s});
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace strata::tsdb::block
