// XOR chunk encode/decode throughput per series shape, on 120-sample chunks as Prometheus's
// head cuts them (tsdb/head_append.go: a 2 h block at a 15 s interval gives 120-sample
// chunks). items/s = samples/s; bytes_per_sample counts the whole chunk data (2-byte count
// included) in the default 3.x form, bytes_per_sample_242 in the 2.42 form (at most one
// more byte per chunk). Both are Prometheus's own sizes: the bytes are identical
// (tests/chunkenc: per-append model check and the promtool round trip).
//
// Each benchmark works on 256 chunks of one shape with different seeds (for `mix`, each
// seed also picks the shape), so branch history and caches see realistic variety rather
// than one chunk replayed.
#include <benchmark/benchmark.h>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "chunkenc/xor_shapes.h"
#include "strata/chunkenc/xor.h"

namespace strata::chunkenc {
namespace {

using testing::GenerateSeries;
using testing::Shape;

constexpr int kSamplesPerChunk = 120;
constexpr int kChunks = 256;

struct Corpus {
  std::vector<std::vector<model::Sample>> series;
  std::vector<std::string> chunks;
  size_t samples = 0;
  size_t bytes = 0;       // 3.x form (the default)
  size_t bytes_242 = 0;   // Prometheus 2.42 form
};

// Untimed: generates the series, encodes them, and verifies the round trip.
Corpus MakeCorpus(Shape shape) {
  Corpus c;
  for (int i = 0; i < kChunks; ++i) {
    c.series.push_back(GenerateSeries(shape, /*seed=*/42 + static_cast<uint64_t>(i),
                                      kSamplesPerChunk));
    std::string buf;
    XorAppender app(&buf);
    for (const auto& s : c.series.back()) app.Append(s.t, s.v);
    XorIterator it(buf);
    for (const auto& s : c.series.back()) {
      if (!it.Next() || !(it.At() == s)) {
        std::fprintf(stderr, "round trip failed for shape %d chunk %d\n",
                     static_cast<int>(shape), i);
        std::abort();
      }
    }
    std::string buf242;
    XorAppender app242(&buf242, XorOptions{.prometheus_2_42 = true});
    for (const auto& s : c.series.back()) app242.Append(s.t, s.v);
    c.samples += c.series.back().size();
    c.bytes += buf.size();
    c.bytes_242 += buf242.size();
    c.chunks.push_back(std::move(buf));
  }
  return c;
}

void SetCounters(benchmark::State& state, const Corpus& c) {
  state.counters["bytes_per_sample"] =
      static_cast<double>(c.bytes) / static_cast<double>(c.samples);
  state.counters["bytes_per_sample_242"] =
      static_cast<double>(c.bytes_242) / static_cast<double>(c.samples);
}

void BM_XorEncode(benchmark::State& state, Shape shape) {
  const Corpus c = MakeCorpus(shape);
  std::vector<std::string> bufs(c.series.size());
  for (auto& b : bufs) b.reserve(1024);  // as a head chunk's buffer: no growth in the loop
  for (auto _ : state) {
    for (size_t i = 0; i < c.series.size(); ++i) {
      XorAppender app(&bufs[i]);
      for (const auto& s : c.series[i]) app.Append(s.t, s.v);
      benchmark::DoNotOptimize(bufs[i].data());
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.samples));
  SetCounters(state, c);
}

// Decodes every chunk of `shape`'s corpus per iteration: Reset, then consume(it) takes the
// samples.
template <class ConsumeChunk>
void RunDecode(benchmark::State& state, Shape shape, ConsumeChunk consume) {
  const Corpus c = MakeCorpus(shape);
  XorIterator it;
  for (auto _ : state) {
    for (const auto& chunk : c.chunks) {
      it.Reset(chunk);
      consume(it);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.samples));
  SetCounters(state, c);
}

void BM_XorDecode(benchmark::State& state, Shape shape) {
  RunDecode(state, shape, [](XorIterator& it) {
    while (it.Next()) benchmark::DoNotOptimize(it.At());
  });
}

// Decode as a query consumes a chunk: every sample copied out into a reused buffer, as
// Prometheus's matrix selector appends each FPoint (promql/engine.go matrixIterSlice).
// BM_XorDecode's per-sample DoNotOptimize clobbers all memory, so the iterator's batch index
// is stored and reloaded every sample (a store-to-load chain of ~5 cycles that is the
// harness's, not the decoder's); here the index stays in a register as in a real loop.
void BM_XorDecodeToBuffer(benchmark::State& state, Shape shape) {
  std::vector<model::Sample> out;
  out.reserve(kSamplesPerChunk);
  RunDecode(state, shape, [&out](XorIterator& it) {
    out.clear();
    while (it.Next()) out.push_back(it.At());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  });
}

// Decode as Prometheus measures its own iterator (tsdb/chunkenc BenchmarkXorRead keeps each
// sample in locals): every sample folded into a register, and the result made observable
// once per chunk. BM_XorDecode's per-sample DoNotOptimize instead stores the sample and
// reloads the iterator's batch index through memory each sample (~9 instructions and a
// store-to-load chain of ~7 cycles per sample, measured on its own in BENCHMARKS.md).
void BM_XorDecodeRegisterSink(benchmark::State& state, Shape shape) {
  RunDecode(state, shape, [](XorIterator& it) {
    uint64_t acc = 0;
    while (it.Next()) {
      const model::Sample s = it.At();
      acc ^= static_cast<uint64_t>(s.t) ^ std::bit_cast<uint64_t>(s.v);
    }
    benchmark::DoNotOptimize(acc);
  });
}

// Seek to the middle of each chunk (decodes up to it), as a range query's first step does.
void BM_XorSeekMiddle(benchmark::State& state, Shape shape) {
  const Corpus c = MakeCorpus(shape);
  XorIterator it;
  for (auto _ : state) {
    for (size_t i = 0; i < c.chunks.size(); ++i) {
      it.Reset(c.chunks[i]);
      benchmark::DoNotOptimize(it.Seek(c.series[i][kSamplesPerChunk / 2].t));
    }
  }
  state.SetItemsProcessed(
      static_cast<int64_t>(state.iterations() * c.chunks.size() * (kSamplesPerChunk / 2 + 1)));
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// Not a codec benchmark: how much of the core this process gets, for reading the figures
// above on a shared host. Eight independent chains of additions run at the core's integer
// throughput (about 4 per cycle); a busy hyper-thread sibling on the host halves that, and
// the decode figures with it, while single dependency chains (a clock measure) do not move.
// items/s = additions/s.
void BM_CoreThroughputProbe(benchmark::State& state) {
  uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8;
  constexpr int kRounds = 1000;
  for (auto _ : state) {
    for (int i = 0; i < kRounds; ++i) {
      asm volatile(
          "add $1, %0\n\tadd $1, %1\n\tadd $1, %2\n\tadd $1, %3\n\t"
          "add $1, %4\n\tadd $1, %5\n\tadd $1, %6\n\tadd $1, %7"
          : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g), "+r"(h));
    }
  }
  benchmark::DoNotOptimize(a + b + c + d + e + f + g + h);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kRounds * 8);
}
#endif

BENCHMARK_CAPTURE(BM_XorEncode, counter, Shape::kCounter);
BENCHMARK_CAPTURE(BM_XorEncode, gauge, Shape::kGauge);
BENCHMARK_CAPTURE(BM_XorEncode, constant, Shape::kConstant);
BENCHMARK_CAPTURE(BM_XorEncode, int_gauge, Shape::kIntGauge);
BENCHMARK_CAPTURE(BM_XorEncode, mix, Shape::kMix);
BENCHMARK_CAPTURE(BM_XorDecode, counter, Shape::kCounter);
BENCHMARK_CAPTURE(BM_XorDecode, gauge, Shape::kGauge);
BENCHMARK_CAPTURE(BM_XorDecode, constant, Shape::kConstant);
BENCHMARK_CAPTURE(BM_XorDecode, int_gauge, Shape::kIntGauge);
BENCHMARK_CAPTURE(BM_XorDecode, mix, Shape::kMix);
BENCHMARK_CAPTURE(BM_XorDecodeToBuffer, mix, Shape::kMix);
BENCHMARK_CAPTURE(BM_XorDecodeRegisterSink, mix, Shape::kMix);
BENCHMARK_CAPTURE(BM_XorSeekMiddle, mix, Shape::kMix);
// The calibrated shapes `mix` draws from (tests/chunkenc/xor_shapes.h).
BENCHMARK_CAPTURE(BM_XorEncode, real_constant, Shape::kRealConstant);
BENCHMARK_CAPTURE(BM_XorEncode, real_counter, Shape::kRealCounter);
BENCHMARK_CAPTURE(BM_XorEncode, real_float_counter, Shape::kRealFloatCounter);
BENCHMARK_CAPTURE(BM_XorEncode, real_int_gauge, Shape::kRealIntGauge);
BENCHMARK_CAPTURE(BM_XorEncode, real_gauge, Shape::kRealGauge);
BENCHMARK_CAPTURE(BM_XorDecode, real_constant, Shape::kRealConstant);
BENCHMARK_CAPTURE(BM_XorDecode, real_counter, Shape::kRealCounter);
BENCHMARK_CAPTURE(BM_XorDecode, real_float_counter, Shape::kRealFloatCounter);
BENCHMARK_CAPTURE(BM_XorDecode, real_int_gauge, Shape::kRealIntGauge);
BENCHMARK_CAPTURE(BM_XorDecode, real_gauge, Shape::kRealGauge);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
BENCHMARK(BM_CoreThroughputProbe);
#endif

}  // namespace
}  // namespace strata::chunkenc

BENCHMARK_MAIN();
