// Tests of the index file codec (strata/index/index_writer.h, index_reader.h) against the
// promtool 2.42 worked example (testdata/promtool_example) and by round trips.
#include <map>
#include <random>
#include <set>

#include "base/coding.h"
#include "base/crc32c.h"
#include "block_testing.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/index/index_reader.h"
#include "strata/index/index_writer.h"
#include "strata/index/postings_for_matchers.h"
#include "testing/status_matchers.h"

namespace strata::index {
namespace {

using ::strata::tsdb::block::testing::ExampleBlockDir;
using ::strata::tsdb::block::testing::ReadFileOrDie;
using ::strata::tsdb::block::testing::ScratchDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<SeriesRef> Expand(absl::StatusOr<std::unique_ptr<Postings>> p) {
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return {};
  std::vector<SeriesRef> out;
  EXPECT_TRUE(ExpandPostings(**p, &out).ok());
  return out;
}

TEST(IndexWriterTest, ReproducesPromtoolExampleByteForByte) {
  ScratchDir dir("ix");
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, IndexWriter::Create(*base::DefaultFileSystem(), dir / "index"));
  for (const char* s : {"", "__name__", "a", "b", "instance", "job", "up", "x", "y"}) {
    STRATA_ASSERT_OK(w->AddSymbol(s));
  }
  const ChunkMeta c1[] = {{8, 0, 45000}};
  const ChunkMeta c2[] = {{0x20, 0, 0}};
  STRATA_ASSERT_OK_AND_ASSIGN(
      SeriesRef r1, w->AddSeries({{"__name__", "up"}, {"instance", "x"}, {"job", "a"}}, c1));
  STRATA_ASSERT_OK_AND_ASSIGN(
      SeriesRef r2, w->AddSeries({{"__name__", "up"}, {"instance", "y"}, {"job", "b"}}, c2));
  EXPECT_EQ(r1, 4u);
  EXPECT_EQ(r2, 6u);
  STRATA_ASSERT_OK(w->Close());
  EXPECT_EQ(ReadFileOrDie(dir / "index"), ReadFileOrDie(ExampleBlockDir() + "/index"));
}

TEST(IndexWriterTest, RejectsUnsortedInput) {
  ScratchDir dir("ix");
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, IndexWriter::Create(*base::DefaultFileSystem(), dir / "index"));
  STRATA_ASSERT_OK(w->AddSymbol("b"));
  EXPECT_THAT(w->AddSymbol("a"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sorted")));
  STRATA_ASSERT_OK(w->AddSymbol("c"));
  STRATA_ASSERT_OK(w->AddSeries({{"c", "c"}}, {}).status());
  EXPECT_THAT(w->AddSeries({{"b", "b"}}, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not after")));
  EXPECT_THAT(w->AddSeries({{"c", "d"}}, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("was not added")));
  EXPECT_THAT(w->AddSymbol("d"), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("after")));
}

TEST(IndexReaderTest, ReadsPromtoolExample) {
  STRATA_ASSERT_OK_AND_ASSIGN(
      auto r, IndexReader::Open(*base::DefaultFileSystem(), ExampleBlockDir() + "/index"));
  EXPECT_EQ(r->version(), 2);
  EXPECT_THAT(r->Symbols(), ElementsAre("", "__name__", "a", "b", "instance", "job", "up", "x", "y"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string_view sym, r->LookupSymbol(6));
  EXPECT_EQ(sym, "up");
  EXPECT_THAT(r->LookupSymbol(9).status(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unknown symbol")));
  EXPECT_THAT(r->LabelNames(), ElementsAre("__name__", "instance", "job"));
  EXPECT_THAT(r->LabelValues("job"), ElementsAre("a", "b"));
  EXPECT_TRUE(r->LabelValues("nope").empty());
  EXPECT_THAT(Expand(r->AllPostings()), ElementsAre(4, 6));
  EXPECT_THAT(Expand(r->PostingsFor("job", "b")), ElementsAre(6));
  EXPECT_THAT(Expand(r->PostingsFor("job", "zzz")), ElementsAre());
  model::Labels lset;
  std::vector<ChunkMeta> chks;
  STRATA_ASSERT_OK(r->Series(4, &lset, &chks));
  EXPECT_EQ(lset, (model::Labels{{"__name__", "up"}, {"instance", "x"}, {"job", "a"}}));
  EXPECT_THAT(chks, ElementsAre(ChunkMeta{8, 0, 45000}));
  STRATA_ASSERT_OK(r->Series(6, &lset, &chks));
  EXPECT_THAT(chks, ElementsAre(ChunkMeta{0x20, 0, 0}));
  EXPECT_THAT(r->Series(5, &lset, &chks), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("series")));
  EXPECT_THAT(r->Series(1000, &lset, &chks), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("out of range")));

  STRATA_ASSERT_OK_AND_ASSIGN(auto m1, model::Matcher::Create(model::MatchType::kRegexMatch, "instance", "x|y"));
  STRATA_ASSERT_OK_AND_ASSIGN(auto m2, model::Matcher::Create(model::MatchType::kNotEqual, "job", "a"));
  EXPECT_THAT(Expand(PostingsForMatchers(*r, {m1, m2})), ElementsAre(6));
  STRATA_ASSERT_OK_AND_ASSIGN(auto m3, model::Matcher::Create(model::MatchType::kRegexMatch, "job", ".*"));
  EXPECT_THAT(Expand(PostingsForMatchers(*r, {m3})), ElementsAre(4, 6));
}

// Everything a reader exposes, as text, or the first error met.
absl::StatusOr<std::string> Snapshot(const IndexReader& r) {
  std::string out = fmt::format("v{} syms:", r.version());
  for (auto s : r.Symbols()) out += fmt::format("{},", s);
  for (const auto& n : r.LabelNames()) {
    out += "\n" + n + ":";
    for (const auto& v : r.LabelValues(n)) {
      auto p = r.PostingsFor(n, v);
      if (!p.ok()) return p.status();
      std::vector<SeriesRef> refs;
      if (auto s = ExpandPostings(**p, &refs); !s.ok()) return s;
      out += fmt::format(" {}={}", v, fmt::join(refs, "/"));
    }
  }
  auto all = r.AllPostings();
  if (!all.ok()) return all.status();
  while ((*all)->Next()) {
    model::Labels lset;
    std::vector<ChunkMeta> chks;
    if (auto s = r.Series((*all)->At(), &lset, &chks); !s.ok()) return s;
    out += "\n" + lset.ToString();
    for (const auto& c : chks) out += fmt::format(" {}:{}:{}", c.ref, c.min_time, c.max_time);
  }
  return out;
}

TEST(IndexReaderTest, EveryCorruptedOrTruncatedByteIsDetectedOrHarmless) {
  const std::string good = ReadFileOrDie(ExampleBlockDir() + "/index");
  STRATA_ASSERT_OK_AND_ASSIGN(auto ref_reader, IndexReader::FromBytes(good, "index"));
  STRATA_ASSERT_OK_AND_ASSIGN(const std::string want, Snapshot(*ref_reader));
  std::mt19937 rng(42);
  int detected = 0;
  for (size_t pos = 0; pos < good.size(); ++pos) {
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ (1 + rng() % 255));
    auto r = IndexReader::FromBytes(bad, "index");
    absl::StatusOr<std::string> got = r.ok() ? Snapshot(**r) : r.status();
    if (got.ok()) {
      EXPECT_EQ(*got, want) << "corrupting byte " << pos << " changed the data undetected";
    } else {
      ++detected;
      EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
      EXPECT_THAT(std::string(got.status().message()), HasSubstr("index index: ")) << pos;
      EXPECT_THAT(std::string(got.status().message()), HasSubstr("offset")) << pos;
    }
  }
  // Only zero padding and the legacy label indices (unused by readers) may change silently.
  EXPECT_GT(detected, static_cast<int>(good.size()) * 3 / 4);
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = IndexReader::FromBytes(std::string_view(good).substr(0, n), "index");
    absl::StatusOr<std::string> got = r.ok() ? Snapshot(**r) : r.status();
    EXPECT_FALSE(got.ok()) << "truncated to " << n << " bytes";
  }
}

TEST(IndexRoundTripTest, RandomSeriesReadBackExactly) {
  const uint32_t seed = 7;
  std::mt19937 rng(seed);
  std::set<model::Labels> set;
  while (set.size() < 2000) {
    std::vector<std::pair<std::string, std::string>> own;
    own.emplace_back("__name__", fmt::format("metric_{}", rng() % 20));
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      own.emplace_back(fmt::format("l{}", rng() % 6), fmt::format("v{}", rng() % 300));
    }
    std::vector<std::pair<std::string_view, std::string_view>> pairs(own.begin(), own.end());
    set.insert(model::Labels::FromPairs(pairs));
  }
  std::set<std::string> symbols = {""};
  for (const auto& l : set) {
    for (const auto& p : l) {
      symbols.emplace(p.name);
      symbols.emplace(p.value);
    }
  }
  ScratchDir dir("ix");
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, IndexWriter::Create(*base::DefaultFileSystem(), dir / "index"));
  for (const auto& s : symbols) STRATA_ASSERT_OK(w->AddSymbol(s));
  std::vector<std::pair<SeriesRef, std::vector<ChunkMeta>>> written;
  std::map<std::pair<std::string, std::string>, std::vector<SeriesRef>> want_postings;
  for (const auto& l : set) {
    std::vector<ChunkMeta> chks;
    int64_t t = static_cast<int64_t>(rng() % 100000) - 50000;
    uint64_t ref = rng() % 1000;
    for (uint32_t i = 0, n = rng() % 5; i < n; ++i) {
      const int64_t mint = t + static_cast<int64_t>(rng() % 100);
      const int64_t maxt = mint + static_cast<int64_t>(rng() % 10000);
      ref += rng() % 3 == 0 ? -static_cast<uint64_t>(rng() % 50) : rng() % (1ull << 40);
      chks.push_back({ref, mint, maxt});
      t = maxt;
    }
    STRATA_ASSERT_OK_AND_ASSIGN(SeriesRef r, w->AddSeries(l, chks));
    written.emplace_back(r, chks);
    for (const auto& p : l) want_postings[{std::string(p.name), std::string(p.value)}].push_back(r);
  }
  STRATA_ASSERT_OK(w->Close());

  STRATA_ASSERT_OK_AND_ASSIGN(auto r, IndexReader::Open(*base::DefaultFileSystem(), dir / "index"));
  size_t i = 0;
  for (const auto& l : set) {
    model::Labels got;
    std::vector<ChunkMeta> chks;
    STRATA_ASSERT_OK(r->Series(written[i].first, &got, &chks));
    EXPECT_EQ(got, l) << "seed " << seed;
    EXPECT_EQ(chks, written[i].second) << "seed " << seed;
    ++i;
  }
  for (const auto& [kv, refs] : want_postings) {
    EXPECT_EQ(Expand(r->PostingsFor(kv.first, kv.second)), refs) << kv.first << "=" << kv.second;
  }
  std::vector<SeriesRef> all;
  for (const auto& wr : written) all.push_back(wr.first);
  EXPECT_EQ(Expand(r->AllPostings()), all);
  // Seek within a long on-disk list.
  STRATA_ASSERT_OK_AND_ASSIGN(auto p, r->AllPostings());
  ASSERT_TRUE(p->Seek(all[1000]));
  EXPECT_EQ(p->At(), all[1000]);
  ASSERT_TRUE(p->Seek(all[1000] + 1));
  EXPECT_EQ(p->At(), all[1001]);
  EXPECT_FALSE(p->Seek(all.back() + 1));
}

// A hand-built version-1 index: symbol refs are byte offsets and series refs are the series'
// byte offsets (Prometheus's FormatV1).
TEST(IndexReaderTest, ReadsFormatVersion1) {
  std::string f;
  base::PutBE32(&f, kIndexMagic);
  f.push_back(1);
  const uint64_t sym_off = f.size();
  std::string body;
  base::PutBE32(&body, 3);
  std::map<std::string, uint32_t> sym_ref;
  for (const char* s : {"a", "job", "x"}) {
    sym_ref[s] = static_cast<uint32_t>(sym_off + 4 + body.size());
    base::PutUvarintStr(&body, s);
  }
  auto section = [&](const std::string& b) {
    base::PutBE32(&f, static_cast<uint32_t>(b.size()));
    f += b;
    base::PutBE32(&f, base::Crc32c(b));
  };
  section(body);
  const uint64_t series_off = f.size();
  std::string s;
  base::PutUvarint(&s, 1);
  base::PutUvarint(&s, sym_ref["job"]);
  base::PutUvarint(&s, sym_ref["x"]);
  base::PutUvarint(&s, 1);
  base::PutVarint(&s, 100);
  base::PutUvarint(&s, 50);
  base::PutUvarint(&s, 8);
  base::PutUvarint(&f, s.size());
  f += s;
  base::PutBE32(&f, base::Crc32c(s));
  while (f.size() % 4) f.push_back(0);
  const uint64_t all_off = f.size();
  std::string pl;
  base::PutBE32(&pl, 1);
  base::PutBE32(&pl, static_cast<uint32_t>(series_off));
  section(pl);
  const uint64_t job_off = f.size();
  section(pl);
  const uint64_t table_off = f.size();
  std::string t;
  base::PutBE32(&t, 2);
  for (auto [n, v, o] : {std::tuple<std::string, std::string, uint64_t>{"", "", all_off},
                         {"job", "x", job_off}}) {
    base::PutUvarint(&t, 2);
    base::PutUvarintStr(&t, n);
    base::PutUvarintStr(&t, v);
    base::PutUvarint(&t, o);
  }
  section(t);
  std::string toc;
  for (uint64_t o : {sym_off, series_off, uint64_t{0}, uint64_t{0}, all_off, table_off}) {
    base::PutBE64(&toc, o);
  }
  base::PutBE32(&toc, base::Crc32c(toc));
  f += toc;

  STRATA_ASSERT_OK_AND_ASSIGN(auto r, IndexReader::FromBytes(f, "v1index"));
  EXPECT_EQ(r->version(), 1);
  EXPECT_THAT(Expand(r->PostingsFor("job", "x")), ElementsAre(series_off));
  model::Labels lset;
  std::vector<ChunkMeta> chks;
  STRATA_ASSERT_OK(r->Series(series_off, &lset, &chks));
  EXPECT_EQ(lset, (model::Labels{{"job", "x"}}));
  EXPECT_THAT(chks, ElementsAre(ChunkMeta{8, 100, 150}));
  EXPECT_THAT(r->LookupSymbol(sym_ref["a"] + 1).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unknown symbol offset")));
}

}  // namespace
}  // namespace strata::index
