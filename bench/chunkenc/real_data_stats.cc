// xor_real_data_stats: what real scraped data looks like to the XOR codec, to calibrate the
// `mix` of bench/chunkenc/xor_bench.cc (BENCHMARKS.md, chunkenc section).
//
// Reads the float samples of Prometheus WAL directories with strata's own WAL reader and
// record decoder, re-encodes each series with XorAppender (whose bytes are Prometheus's, see
// tests/chunkenc) into chunks of 120 samples as Prometheus's head cuts them, and prints
// bytes/sample (chunk data including the 2-byte count, as the benchmark counts it), for
// every full 120-sample chunk and per series class:
//   constant   every value of the series equal;
//   counter    name ends in _total/_count/_sum/_bucket and the values never decrease
//              (a counter reset counts as a decrease: such series go to `other`);
//   int_gauge  every value an integer, not a counter;
//   gauge      the rest.
// plus the timestamp delta-of-delta distribution and the share of unchanged values.
//
// Usage: xor_real_data_stats [-v] WAL_DIR [WAL_DIR...]   (-v: example series per class)
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/chunkenc/xor.h"
#include "strata/tsdb/record/record.h"
#include "strata/tsdb/wal/reader.h"

namespace {

using strata::chunkenc::XorAppender;
namespace record = strata::tsdb::record;
namespace wal = strata::tsdb::wal;

constexpr int kSamplesPerChunk = 120;

struct Series {
  std::string name;
  std::vector<std::pair<int64_t, double>> samples;
};

struct ClassStats {
  int series = 0;
  size_t samples = 0;        // in full chunks
  size_t bytes = 0;          // of full chunks
  size_t all_samples = 0;    // including the partial last chunk
  size_t all_bytes = 0;
  size_t unchanged = 0;      // samples (after the first of a chunk) equal to the previous
  size_t pairs = 0;
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Classify(const Series& s) {
  bool constant = true, integral = true, monotonic = true;
  for (size_t i = 0; i < s.samples.size(); ++i) {
    const double v = s.samples[i].second;
    if (std::bit_cast<uint64_t>(v) != std::bit_cast<uint64_t>(s.samples[0].second)) {
      constant = false;
    }
    if (!(std::isfinite(v) && v == std::trunc(v))) integral = false;
    if (i > 0 && v < s.samples[i - 1].second) monotonic = false;
  }
  if (constant) return "constant";
  const bool counter_name = EndsWith(s.name, "_total") || EndsWith(s.name, "_count") ||
                            EndsWith(s.name, "_sum") || EndsWith(s.name, "_bucket");
  if (counter_name && monotonic) return integral ? "counter_int" : "counter_float";
  if (integral) return "int_gauge";
  return "gauge";
}

}  // namespace

int main(int argc, char** argv) {
  // -v: also print example series of every class.
  const bool verbose = argc > 1 && std::string_view(argv[1]) == "-v";
  if (verbose) {
    --argc;
    ++argv;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s [-v] WAL_DIR [WAL_DIR...]\n", argv[0]);
    return 2;
  }
  std::unordered_map<uint64_t, Series> series;
  std::vector<record::RefSeries> rs;
  std::vector<record::RefSample> smp;
  for (int a = 1; a < argc; ++a) {
    auto r = wal::Reader::Open({wal::SegmentRange{argv[a]}});
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
    while ((*r)->Next()) {
      const std::string_view rec = (*r)->record();
      switch (record::GetType(rec)) {
        case record::Type::kSeries: {
          rs.clear();
          if (auto s = record::DecodeSeries(rec, &rs); !s.ok()) {
            std::fprintf(stderr, "%s\n", s.ToString().c_str());
            return 1;
          }
          for (const auto& e : rs) series[e.ref].name = std::string(e.labels.MetricName());
          break;
        }
        case record::Type::kSamples: {
          smp.clear();
          if (auto s = record::DecodeSamples(rec, &smp); !s.ok()) {
            std::fprintf(stderr, "%s\n", s.ToString().c_str());
            return 1;
          }
          for (const auto& e : smp) series[e.ref].samples.push_back({e.t, e.v});
          break;
        }
        default:
          break;
      }
    }
    // A WAL cut mid-record by a killed server ends in a torn record; what was read is kept.
    if (!(*r)->status().ok()) {
      std::fprintf(stderr, "note: %s\n", (*r)->status().ToString().c_str());
    }
  }

  std::map<std::string, ClassStats> cls;
  ClassStats total;
  std::map<std::string, size_t> dods;  // delta-of-delta buckets as the encoder chooses them
  size_t dod_n = 0;
  std::map<std::string, size_t> devs;  // scrape interval deviations
  size_t dev_n = 0;
  for (const auto& [ref, s] : series) {
    if (s.samples.empty()) continue;
    std::map<int64_t, int> dcount;
    for (size_t i = 1; i < s.samples.size(); ++i) {
      ++dcount[s.samples[i].first - s.samples[i - 1].first];
    }
    int64_t interval = 0;
    int best = 0;
    for (const auto& [d, c] : dcount) {
      if (c > best) {
        best = c;
        interval = d;
      }
    }
    const std::string c = Classify(s);
    ClassStats& cs = cls[c];
    if (verbose && cs.series < 12) {  // examples: name and the first values
      std::printf("%s %s:", c.c_str(), s.name.c_str());
      for (size_t i = 0; i < s.samples.size() && i < 6; ++i) {
        std::printf(" %.17g", s.samples[i].second);
      }
      std::printf("\n");
    }
    ++cs.series;
    ++total.series;
    for (size_t begin = 0; begin < s.samples.size(); begin += kSamplesPerChunk) {
      const size_t end = std::min(s.samples.size(), begin + kSamplesPerChunk);
      std::string buf;
      XorAppender app(&buf);
      for (size_t i = begin; i < end; ++i) {
        app.Append(s.samples[i].first, s.samples[i].second);
        if (i > begin) {
          const bool same = std::bit_cast<uint64_t>(s.samples[i].second) ==
                            std::bit_cast<uint64_t>(s.samples[i - 1].second);
          for (ClassStats* x : {&cs, &total}) {
            x->unchanged += same;
            ++x->pairs;
          }
        }
        if (i > begin) {
          // Deviation of the scrape interval from the configured one (the most common delta
          // of the series).
          const int64_t d = s.samples[i].first - s.samples[i - 1].first;
          const int64_t dev = d - interval;
          const int64_t ad = dev < 0 ? -dev : dev;
          ++dev_n;
          ++devs[dev == 0 ? "0" : ad <= 10 ? "1..10 ms" : ad <= 50 ? "11..50 ms"
                 : ad <= 200 ? "51..200 ms" : "more"];
        }
        if (i >= begin + 2) {
          const int64_t dod = (s.samples[i].first - s.samples[i - 1].first) -
                              (s.samples[i - 1].first - s.samples[i - 2].first);
          const int64_t ad = dod < 0 ? -dod : dod;
          ++dod_n;
          ++dods[dod == 0       ? "0"
                 : ad <= 2      ? "1..2 ms"
                 : ad <= 10     ? "3..10 ms"
                 : ad <= 100    ? "11..100 ms"
                 : ad <= 8191   ? "other 14-bit"
                                : "wider"];
        }
      }
      const size_t n = end - begin;
      for (ClassStats* x : {&cs, &total}) {
        x->all_samples += n;
        x->all_bytes += buf.size();
        if (n == kSamplesPerChunk) {
          x->samples += n;
          x->bytes += buf.size();
        }
      }
    }
  }
  auto print = [](const char* name, const ClassStats& x, const ClassStats& t) {
    std::printf("%-14s %7d %6.1f%% %9zu %8.3f %8.3f %6.1f%% %9.1f%%\n", name, x.series,
                100.0 * x.series / t.series, x.samples,
                x.samples ? static_cast<double>(x.bytes) / static_cast<double>(x.samples) : 0.0,
                x.all_samples ? static_cast<double>(x.all_bytes) /
                                    static_cast<double>(x.all_samples)
                              : 0.0,
                x.pairs ? 100.0 * static_cast<double>(x.unchanged) /
                              static_cast<double>(x.pairs)
                        : 0.0,
                t.bytes ? 100.0 * static_cast<double>(x.bytes) / static_cast<double>(t.bytes)
                        : 0.0);
  };
  std::printf("%-14s %7s %7s %9s %8s %8s %7s %10s\n", "class", "series", "share",
              "samples120", "B/s(120)", "B/s(all)", "unchg", "bytes share");
  for (const auto& [name, x] : cls) print(name.c_str(), x, total);
  print("total", total, total);
  std::printf("timestamp delta-of-delta (%zu):\n", dod_n);
  for (const auto& [name, n] : dods) {
    std::printf("  %-14s %6.2f%%\n", name.c_str(), 100.0 * static_cast<double>(n) /
                                                      static_cast<double>(dod_n));
  }
  std::printf("scrape interval deviation (%zu):\n", dev_n);
  for (const auto& [name, n] : devs) {
    std::printf("  %-14s %6.2f%%\n", name.c_str(), 100.0 * static_cast<double>(n) /
                                                      static_cast<double>(dev_n));
  }
  return 0;
}
