// Compaction throughput (figures in BENCHMARKS.md, "Compaction"):
//   BM_CompactLeveled:  3 adjacent 2h blocks of N series x 480 samples (15s) merged into one
//                       6h block; chunks are copied verbatim (index + chunk copy + fsync).
//   BM_CompactVertical: 2 overlapping 2h blocks of N series x 480 samples, the second half a
//                       scrape interval later, so that every chunk overlaps: all samples are
//                       decoded, merged and re-encoded into 120-sample chunks.
// Input blocks are built once per shape (untimed) and verified by the first compaction's
// stats. items/s = input samples per CPU second; the output block is deleted untimed.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/tsdb/block/block_writer.h"
#include "strata/tsdb/compact.h"

namespace strata::tsdb {
namespace {

constexpr int64_t k2h = 2 * 3600 * 1000;
constexpr int64_t kScrape = 15000;
constexpr int kSamplesPerSeries = 480;  // 2h at 15s

std::string MakeTempDir() {
  std::string tmpl = "/tmp/strata-compact-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

model::Labels SeriesLabels(int i) {
  return model::Labels::FromPairs({{"__name__", "bench_metric_" + std::to_string(i % 50)},
                                   {"instance", "host-" + std::to_string(i / 50)},
                                   {"job", "bench"}});
}

// A 2h block starting at `start`, samples offset by `offset` ms, gauge-like values.
std::shared_ptr<block::Block> BuildBlock(const std::string& dir, int series, int64_t start,
                                         int64_t offset) {
  block::BlockWriterOptions o;
  o.min_time = start;
  o.max_time = start + k2h;
  block::BlockWriter w(*base::DefaultFileSystem(), dir, o);
  for (int i = 0; i < series; ++i) {
    std::vector<model::Sample> s;
    s.reserve(kSamplesPerSeries);
    double v = i;
    for (int k = 0; k < kSamplesPerSeries; ++k) {
      const int64_t t = start + offset + k * kScrape;
      if (t >= start + k2h) break;
      v += static_cast<double>((k * 7 + i) % 13) * 0.25;
      s.push_back({t, v});
    }
    if (!w.AddSeries(SeriesLabels(i), std::move(s)).ok()) std::abort();
  }
  auto m = w.Flush();
  if (!m.ok()) std::abort();
  auto b = block::Block::Open(*base::DefaultFileSystem(), dir + "/" + m->ulid.ToString());
  if (!b.ok()) std::abort();
  return *b;
}

struct Inputs {
  std::string dir;
  std::vector<std::shared_ptr<block::Block>> blocks;
  uint64_t samples = 0;
};

Inputs& GetInputs(bool vertical, int series) {
  static std::map<std::pair<bool, int>, Inputs> cache;
  auto it = cache.find({vertical, series});
  if (it != cache.end()) return it->second;
  Inputs in;
  in.dir = MakeTempDir();
  if (vertical) {
    in.blocks.push_back(BuildBlock(in.dir, series, 0, 0));
    in.blocks.push_back(BuildBlock(in.dir, series, 0, kScrape / 2));
  } else {
    for (int k = 0; k < 3; ++k) in.blocks.push_back(BuildBlock(in.dir, series, k * k2h, 0));
  }
  for (const auto& b : in.blocks) in.samples += b->meta().stats.num_samples;
  return cache.emplace(std::make_pair(vertical, series), std::move(in)).first->second;
}

void RunCompaction(benchmark::State& state, bool vertical) {
  const int series = static_cast<int>(state.range(0));
  Inputs& in = GetInputs(vertical, series);
  const std::string out = in.dir + "/out";
  std::filesystem::create_directories(out);
  uint64_t out_bytes = 0, out_chunks = 0;
  for (auto _ : state) {
    auto m = CompactBlocks(*base::DefaultFileSystem(), in.blocks, out);
    if (!m.ok() || m->stats.num_samples != in.samples) {
      state.SkipWithError("compaction failed or lost samples");
      break;
    }
    state.PauseTiming();
    out_chunks = m->stats.num_chunks;
    out_bytes = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(out)) {
      if (e.is_regular_file()) out_bytes += e.file_size();
    }
    std::filesystem::remove_all(out + "/" + m->ulid.ToString());
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * in.samples));
  state.counters["input_samples"] = static_cast<double>(in.samples);
  state.counters["out_chunks"] = static_cast<double>(out_chunks);
  state.counters["out_bytes_per_sample"] =
      static_cast<double>(out_bytes) / static_cast<double>(in.samples);
}

void BM_CompactLeveled(benchmark::State& state) { RunCompaction(state, false); }
void BM_CompactVertical(benchmark::State& state) { RunCompaction(state, true); }

BENCHMARK(BM_CompactLeveled)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CompactVertical)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace strata::tsdb

BENCHMARK_MAIN();
