// Interoperability of strata's block format with the reference binary, promtool 2.42:
//  (1) a block written by strata's BlockWriter passes `promtool tsdb analyze` and
//      `promtool tsdb dump` prints exactly the samples strata wrote;
//  (2) a block written by `promtool tsdb create-blocks-from openmetrics` from a generated
//      file opens in strata, reads back exactly what promtool dump prints, and re-writing
//      its series with BlockWriter reproduces promtool's index, chunk and meta files byte for
//      byte.
// Skipped (visibly) when /usr/bin/promtool is missing.
#include <sys/wait.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <random>

#include "block_testing.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/tsdb/block/block.h"
#include "strata/tsdb/block/block_writer.h"
#include "testing/status_matchers.h"

namespace strata::tsdb::block {
namespace {

using ::strata::tsdb::block::testing::ReadFileOrDie;
using ::strata::tsdb::block::testing::ScratchDir;
using ::strata::tsdb::block::testing::SeriesSamples;
using ::strata::tsdb::block::testing::WriteFileOrDie;

constexpr char kPromtool[] = "/usr/bin/promtool";

base::FileSystem& Fs() { return *base::DefaultFileSystem(); }

// Runs `cmd` through the shell; returns its exit status and stdout.
std::pair<int, std::string> RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Parses a value as Go's %g prints it.
bool ParseGoFloat(std::string_view s, double* v) {
  if (s == "NaN") {
    *v = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "+Inf" || s == "-Inf") {
    *v = s[0] == '+' ? INFINITY : -INFINITY;
    return true;
  }
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// One line of `promtool tsdb dump`: `{labels} value timestamp`.
struct DumpLine {
  std::string labels;
  double v = 0;
  int64_t t = 0;
};

// Dumps every sample of the blocks in data directory `dir`.
std::vector<DumpLine> PromtoolDump(const std::string& dir) {
  std::filesystem::create_directories(dir + "/wal");  // dump opens the WAL directory
  auto [rc, out] = RunCommand(fmt::format("{} tsdb dump --min-time={} --max-time={} {} 2>&1", kPromtool,
                                   std::numeric_limits<int64_t>::min(),
                                   std::numeric_limits<int64_t>::max(), Quote(dir)));
  EXPECT_EQ(rc, 0) << out;
  std::vector<DumpLine> lines;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string_view line(out.data() + start, end - start);
    start = end + 1;
    const size_t sp2 = line.rfind(' ');
    const size_t sp1 = sp2 == std::string_view::npos ? sp2 : line.rfind(' ', sp2 - 1);
    DumpLine d;
    if (sp1 == std::string_view::npos || !ParseGoFloat(line.substr(sp1 + 1, sp2 - sp1 - 1), &d.v) ||
        std::from_chars(line.data() + sp2 + 1, line.data() + line.size(), d.t).ec != std::errc()) {
      ADD_FAILURE() << "unparsable dump line: " << line;
      continue;
    }
    d.labels = std::string(line.substr(0, sp1));
    lines.push_back(std::move(d));
  }
  return lines;
}

// Samples as dump lines, in series order, for comparison with PromtoolDump.
std::vector<DumpLine> AsDump(const std::vector<SeriesSamples>& series) {
  std::vector<DumpLine> out;
  for (const auto& s : series) {
    for (const auto& x : s.samples) out.push_back({s.lset.ToString(), x.v, x.t});
  }
  return out;
}

void ExpectSameDump(const std::vector<DumpLine>& got, const std::vector<DumpLine>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const bool same_v = (std::isnan(got[i].v) && std::isnan(want[i].v)) || got[i].v == want[i].v;
    if (got[i].labels != want[i].labels || got[i].t != want[i].t || !same_v) {
      FAIL() << "line " << i << ": got " << got[i].labels << " " << got[i].v << " " << got[i].t
             << ", want " << want[i].labels << " " << want[i].v << " " << want[i].t;
    }
  }
}

absl::StatusOr<std::vector<SeriesSamples>> ReadBlock(const std::string& dir) {
  auto b = Block::Open(Fs(), dir);
  if (!b.ok()) return b.status();
  auto q = (*b)->NewQuerier(std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max());
  if (!q.ok()) return q.status();
  auto m = model::Matcher::Create(model::MatchType::kRegexMatch, "__name__", ".+");
  if (!m.ok()) return m.status();
  auto set = (*q)->Select({*m});
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

// A few hundred series with varied scrape intervals (multiples of 125 ms, so that
// OpenMetrics' seconds convert to milliseconds exactly), jitter, gaps, NaN and infinities,
// all inside one aligned 2h window starting at `base_ms`.
std::vector<SeriesSamples> Generate(uint32_t seed, int64_t base_ms, int nseries) {
  std::mt19937_64 rng(seed);
  const int64_t intervals[] = {1000, 5000, 10000, 15000, 30000, 60000, 250};
  const char* paths[] = {"/", "/api/v1/query", "/a b", "/caf\xc3\xa9", "/q\"uote"};
  std::vector<SeriesSamples> out;
  for (int i = 0; i < nseries; ++i) {
    std::vector<std::pair<std::string, std::string>> own = {
        {"__name__", fmt::format("metric_{}", i % 7)},
        {"instance", fmt::format("host-{}:9090", i)},
        {"job", fmt::format("job{}", i % 4)}};
    if (i % 5 == 0) own.emplace_back("path", paths[(i / 5) % 5]);
    std::vector<std::pair<std::string_view, std::string_view>> pairs(own.begin(), own.end());
    SeriesSamples s{model::Labels::FromPairs(pairs), {}};
    const int64_t step = intervals[rng() % 7];
    int64_t t = base_ms + static_cast<int64_t>(rng() % 480) * 125;
    const int64_t end = base_ms + 7000000;
    const int n = 20 + static_cast<int>(rng() % 380);
    double v = static_cast<double>(rng() % 1000);
    const int kind = static_cast<int>(rng() % 3);
    for (int k = 0; k < n && t < end; ++k) {
      switch (kind) {
        case 0: v += static_cast<double>(rng() % 10); break;                       // counter
        case 1: v = std::ldexp(static_cast<double>(rng() % (1 << 30)), -12); break;  // gauge
        default: v = static_cast<double>(rng() % 3); break;                          // flappy
      }
      double val = v;
      if (rng() % 500 == 0) val = std::numeric_limits<double>::quiet_NaN();
      if (rng() % 700 == 0) val = (rng() % 2 == 0 ? 1 : -1) * INFINITY;
      s.samples.push_back({t, val});
      t += step + static_cast<int64_t>(rng() % 3) * 125;
      if (rng() % 50 == 0) t += step * static_cast<int64_t>(rng() % 20);  // a gap
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const SeriesSamples& a, const SeriesSamples& b) { return a.lset < b.lset; });
  return out;
}

std::string OpenMetricsValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

// OpenMetrics text for `series` (timestamps in seconds), samples grouped per series.
std::string ToOpenMetrics(const std::vector<SeriesSamples>& series) {
  std::map<std::string, std::vector<const SeriesSamples*>> by_name;
  for (const auto& s : series) by_name[std::string(s.lset.MetricName())].push_back(&s);
  std::string out;
  for (const auto& [name, ss] : by_name) {
    out += fmt::format("# TYPE {} gauge\n", name);
    for (const SeriesSamples* s : ss) {
      std::string labels;
      for (const auto& l : s->lset) {
        if (l.name == model::kMetricName) continue;
        std::string v;
        for (char c : l.value) {
          if (c == '"' || c == '\\') v.push_back('\\');
          v.push_back(c);
        }
        labels += fmt::format("{}{}=\"{}\"", labels.empty() ? "" : ",", l.name, v);
      }
      for (const auto& x : s->samples) {
        out += fmt::format("{}{{{}}} {} {}.{:03d}\n", name, labels, OpenMetricsValue(x.v),
                           x.t / 1000, x.t % 1000);
      }
    }
  }
  out += "# EOF\n";
  return out;
}

class PromtoolInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kPromtool)) GTEST_SKIP() << "promtool not installed";
  }
};

TEST_F(PromtoolInteropTest, PromtoolReadsStrataBlock) {
  const uint32_t seed = 20260101;
  const int64_t base_ms = 1699999200000;  // a multiple of 2h
  const auto series = Generate(seed, base_ms, 150);
  ScratchDir dir("data");
  BlockWriter w(Fs(), dir.path());
  for (const auto& s : series) STRATA_ASSERT_OK(w.AddSeries(s.lset, s.samples));
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta meta, w.Flush());

  auto [rc, out] = RunCommand(fmt::format("{} tsdb analyze {} {} 2>&1", kPromtool, Quote(dir.path()),
                                   meta.ulid.ToString()));
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr(meta.ulid.ToString()));
  EXPECT_THAT(out, ::testing::HasSubstr(fmt::format("Series: {}", series.size())));
  ExpectSameDump(PromtoolDump(dir.path()), AsDump(series));
}

TEST_F(PromtoolInteropTest, StrataReadsAndReproducesPromtoolBlock) {
  const uint32_t seed = 42;
  const int64_t base_ms = 1699999200000;
  const auto series = Generate(seed, base_ms, 300);
  uint64_t nsamples = 0;
  for (const auto& s : series) nsamples += s.samples.size();
  ASSERT_GT(nsamples, 20000u);
  ScratchDir dir("data");
  WriteFileOrDie(dir / "input.om", ToOpenMetrics(series));
  auto [rc, out] = RunCommand(fmt::format("{} tsdb create-blocks-from openmetrics -q {} {} 2>&1",
                                   kPromtool, Quote(dir / "input.om"), Quote(dir / "promtool")));
  ASSERT_EQ(rc, 0) << out;
  std::vector<std::string> blocks;
  for (const auto& e : std::filesystem::directory_iterator(dir / "promtool")) {
    blocks.push_back(e.path().filename().string());
  }
  ASSERT_EQ(blocks.size(), 1u) << "expected one block for data inside one 2h window";
  const std::string pdir = dir / ("promtool/" + blocks[0]);

  // Strata reads promtool's block: the same samples promtool dump prints, and the generated
  // input (values bit for bit, except NaN payloads which dump cannot show).
  STRATA_ASSERT_OK_AND_ASSIGN(auto got, ReadBlock(pdir));
  const auto dump = PromtoolDump(dir / "promtool");
  ExpectSameDump(AsDump(got), dump);
  ExpectSameDump(AsDump(got), AsDump(series));

  // Re-writing the same series reproduces promtool's files byte for byte.
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta pmeta, ReadMeta(Fs(), pdir));
  // The data must exercise chunk cutting (re-estimated ends, 2h window), not just one chunk
  // per series.
  EXPECT_EQ(pmeta.stats.num_samples, nsamples);
  EXPECT_GT(pmeta.stats.num_chunks, pmeta.stats.num_series * 3 / 2);
  RecordProperty("samples", static_cast<int>(pmeta.stats.num_samples));
  RecordProperty("chunks", static_cast<int>(pmeta.stats.num_chunks));
  BlockWriterOptions opts;
  opts.ulid = pmeta.ulid;
  ScratchDir out_dir("strata");
  BlockWriter w(Fs(), out_dir.path(), opts);
  for (const auto& s : got) STRATA_ASSERT_OK(w.AddSeries(s.lset, s.samples));
  STRATA_ASSERT_OK_AND_ASSIGN(BlockMeta meta, w.Flush());
  EXPECT_EQ(meta, pmeta);
  const std::string sdir = out_dir / pmeta.ulid.ToString();
  std::vector<std::string> chunk_files;
  for (const auto& e : std::filesystem::directory_iterator(pdir + "/chunks")) {
    chunk_files.push_back("chunks/" + e.path().filename().string());
  }
  ASSERT_FALSE(chunk_files.empty());
  std::vector<std::string> files = {"index", "meta.json", "tombstones"};
  files.insert(files.end(), chunk_files.begin(), chunk_files.end());
  for (const auto& f : files) {
    const std::string want = ReadFileOrDie(pdir + "/" + f);
    const std::string have = ReadFileOrDie(sdir + "/" + f);
    if (want != have) {
      size_t i = 0;
      while (i < want.size() && i < have.size() && want[i] == have[i]) ++i;
      ADD_FAILURE() << f << " differs: sizes " << want.size() << " (promtool) vs " << have.size()
                    << " (strata), first difference at offset " << i;
    }
  }
}

}  // namespace
}  // namespace strata::tsdb::block
