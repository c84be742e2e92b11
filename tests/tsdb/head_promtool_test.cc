// The head cuts chunks exactly as Prometheus 2.42 does: the same samples appended to a
// strata head and given to `promtool tsdb create-blocks-from openmetrics` (which ingests
// through a 2.42 head with a 2h chunk range) yield the same chunk boundaries and the same
// chunk bytes. Skipped (visibly) when /usr/bin/promtool is missing.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "strata/base/file_system.h"
#include "strata/index/index_reader.h"
#include "strata/index/postings.h"
#include "strata/tsdb/block/chunks.h"
#include "strata/tsdb/head.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace strata::tsdb {
namespace {

using model::Labels;
using model::Sample;

constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr int64_t kBase = 1699999200000;  // aligned to 2h

struct Chunk {
  int64_t mint, maxt;
  std::string bytes;
  friend bool operator==(const Chunk&, const Chunk&) = default;
};

// Sample shapes that exercise every cutting rule.
std::map<std::string, std::vector<Sample>> Shapes() {
  std::map<std::string, std::vector<Sample>> out;
  std::mt19937_64 rng(7);
  auto& regular = out["regular15s"];  // 2h at 15s: 4 chunks of 120
  for (int64_t t = 0; t < 7'200'000; t += 15'000) {
    regular.push_back({kBase + t, static_cast<double>(t / 1000)});
  }
  auto& fast = out["fast1s"];  // 1s for 10 min: re-estimated ends at ~116 s
  for (int64_t t = 0; t < 600'000; t += 1000) {
    fast.push_back({kBase + t, static_cast<double>(rng() % 100)});
  }
  auto& irregular = out["irregular"];  // random gaps
  for (int64_t t = 0; t < 7'000'000; t += 1000 * (1 + static_cast<int64_t>(rng() % 60))) {
    irregular.push_back({kBase + t, static_cast<double>(rng() % 1000) / 8});
  }
  auto& burst = out["burst"];  // slow start, then a burst: the 240-sample cap cuts
  int64_t t = 0;
  for (int i = 0; i < 30; ++i, t += 60'000) burst.push_back({kBase + t, 1});
  for (int i = 0; i < 500; ++i, t += 1) burst.push_back({kBase + t, static_cast<double>(i)});
  return out;
}

std::pair<int, std::string> RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST(HeadPromtoolTest, ChunkBoundariesAndBytesMatchPromtool242) {
  if (!std::filesystem::exists(kPromtool)) GTEST_SKIP() << "promtool not installed";
  const auto shapes = Shapes();
  testing::TempDir tmp;

  // OpenMetrics input: timestamps in seconds with millisecond decimals; values are exact in
  // %.17g.
  {
    std::ofstream om(tmp.Sub("in.om"));
    om << "# TYPE m gauge\n";
    for (const auto& [name, samples] : shapes) {
      for (const Sample& s : samples) {
        char line[160];
        std::snprintf(line, sizeof(line), "m{shape=\"%s\"} %.17g %lld.%03lld\n", name.c_str(),
                      s.v, static_cast<long long>(s.t / 1000),
                      static_cast<long long>(s.t % 1000));
        om << line;
      }
    }
    om << "# EOF\n";
  }
  auto [rc, out] = RunCommand(std::string(kPromtool) + " tsdb create-blocks-from openmetrics -q '" +
                              tmp.Sub("in.om") + "' '" + tmp.Sub("blocks") + "' 2>&1");
  ASSERT_EQ(rc, 0) << out;
  std::vector<std::string> blocks;
  for (const auto& e : std::filesystem::directory_iterator(tmp.Sub("blocks"))) {
    blocks.push_back(e.path().string());
  }
  ASSERT_EQ(blocks.size(), 1u);

  base::FileSystem& fs = *base::DefaultFileSystem();
  STRATA_ASSERT_OK_AND_ASSIGN(auto ix, index::IndexReader::Open(fs, blocks[0] + "/index"));
  STRATA_ASSERT_OK_AND_ASSIGN(auto cr, block::ChunkReader::Open(fs, blocks[0] + "/chunks"));
  std::map<std::string, std::vector<Chunk>> want;
  STRATA_ASSERT_OK_AND_ASSIGN(auto all, ix->AllPostings());
  while (all->Next()) {
    Labels l;
    std::vector<index::ChunkMeta> metas;
    STRATA_ASSERT_OK(ix->Series(all->At(), &l, &metas));
    for (const auto& m : metas) {
      STRATA_ASSERT_OK_AND_ASSIGN(auto cd, cr->Chunk(m.ref));
      want[std::string(l.Get("shape"))].push_back({m.min_time, m.max_time, std::string(cd.data)});
    }
  }
  STRATA_ASSERT_OK(all->status());
  ASSERT_EQ(want.size(), shapes.size());

  Head h;  // defaults: 2h chunk range, 120 samples per chunk, 2.42 bytes
  auto app = h.NewAppender();
  for (const auto& [name, samples] : shapes) {
    const Labels l{{"__name__", "m"}, {"shape", name}};
    for (const Sample& s : samples) STRATA_ASSERT_OK(app->Append(0, l, s.t, s.v));
  }
  STRATA_ASSERT_OK(app->Commit());
  std::map<std::string, std::vector<Chunk>> got;
  h.ForEachSeries([&](model::SeriesRef, const Labels& l, std::span<const HeadChunkView> cs) {
    for (const auto& c : cs) {
      got[std::string(l.Get("shape"))].push_back({c.mint, c.maxt, std::string(c.bytes)});
    }
  });
  for (const auto& [name, chunks] : want) {
    const auto& g = got[name];
    ASSERT_EQ(g.size(), chunks.size()) << name;
    for (size_t i = 0; i < chunks.size(); ++i) {
      EXPECT_EQ(g[i].mint, chunks[i].mint) << name << " chunk " << i;
      EXPECT_EQ(g[i].maxt, chunks[i].maxt) << name << " chunk " << i;
      EXPECT_TRUE(g[i].bytes == chunks[i].bytes) << name << " chunk " << i << " bytes differ";
    }
  }
  // The shapes do hit the interesting rules.
  EXPECT_EQ(want["regular15s"].size(), 4u);
  EXPECT_GE(want["burst"].size(), 3u);
}

}  // namespace
}  // namespace strata::tsdb
