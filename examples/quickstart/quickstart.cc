// strata quickstart: the demo that README command (a) runs.
//
// Generates a synthetic fleet of realistic series (CPU counters per mode, memory gauges,
// request counters with restarts, latency histogram buckets), encodes each series into
// Prometheus-compatible XOR chunks of 120 samples, decodes them back, verifies every sample,
// and prints what it measured. Later stages of strata grow this into the full pipeline.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "strata/chunkenc/xor.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"

namespace {

using strata::model::Labels;
using strata::model::Sample;

struct Series {
  Labels lset;
  std::vector<Sample> samples;
};

enum class Kind { kCounter, kGauge, kIntGauge, kBucket };

// 15 s scrapes with a little jitter, as a real scraper produces.
std::vector<int64_t> ScrapeTimes(std::mt19937_64& rng, int64_t start, int n) {
  std::vector<int64_t> ts(n);
  std::uniform_int_distribution<int> jitter(-20, 20);
  for (int i = 0; i < n; ++i) ts[i] = start + int64_t{i} * 15000 + jitter(rng);
  return ts;
}

std::vector<Sample> Generate(Kind kind, std::mt19937_64& rng, int64_t start, int n) {
  std::vector<Sample> out;
  out.reserve(n);
  const std::vector<int64_t> ts = ScrapeTimes(rng, start, n);
  std::normal_distribution<double> noise(0, 1);
  double v = 0;
  switch (kind) {
    case Kind::kCounter: {
      std::exponential_distribution<double> inc(1.0 / 40);
      for (int i = 0; i < n; ++i) {
        if (i > 0 && rng() % 2000 == 0) v = 0;  // a process restart resets the counter
        v += std::floor(inc(rng));
        out.push_back({ts[i], v});
      }
      break;
    }
    case Kind::kGauge: {
      v = 50 + 10 * noise(rng);
      for (int i = 0; i < n; ++i) {
        v += 0.3 * noise(rng);
        out.push_back({ts[i], v});
      }
      break;
    }
    case Kind::kIntGauge: {
      v = static_cast<double>(1 << 30);
      for (int i = 0; i < n; ++i) {
        v += static_cast<double>(static_cast<int64_t>(4096 * noise(rng)));
        out.push_back({ts[i], v});
      }
      break;
    }
    case Kind::kBucket: {
      std::poisson_distribution<int> inc(3);
      for (int i = 0; i < n; ++i) {
        v += inc(rng);
        out.push_back({ts[i], v});
      }
      break;
    }
  }
  return out;
}

std::vector<Series> Fleet(int hosts, int scrapes) {
  std::mt19937_64 rng(42);
  std::vector<Series> out;
  const int64_t start = 1'700'000'000'000;
  static constexpr std::string_view kModes[] = {"user", "system", "idle", "iowait"};
  static constexpr std::string_view kLe[] = {"0.005", "0.01", "0.05", "0.1", "0.5", "1", "+Inf"};
  for (int h = 0; h < hosts; ++h) {
    const std::string instance = "host-" + std::to_string(h) + ":9100";
    const std::string zone = "zone-" + std::to_string(h % 3);
    auto add = [&](Labels l, Kind k) {
      out.push_back({std::move(l), Generate(k, rng, start, scrapes)});
    };
    for (int cpu = 0; cpu < 2; ++cpu) {
      for (std::string_view mode : kModes) {
        add(Labels{{"__name__", "node_cpu_seconds_total"}, {"instance", instance},
                   {"job", "node"}, {"zone", zone}, {"cpu", std::to_string(cpu)},
                   {"mode", mode}},
            Kind::kCounter);
      }
    }
    add(Labels{{"__name__", "node_memory_MemAvailable_bytes"}, {"instance", instance},
               {"job", "node"}, {"zone", zone}},
        Kind::kIntGauge);
    add(Labels{{"__name__", "node_load1"}, {"instance", instance}, {"job", "node"},
               {"zone", zone}},
        Kind::kGauge);
    add(Labels{{"__name__", "http_requests_total"}, {"instance", instance}, {"job", "api"},
               {"zone", zone}, {"code", "200"}},
        Kind::kCounter);
    for (std::string_view le : kLe) {
      add(Labels{{"__name__", "http_request_duration_seconds_bucket"}, {"instance", instance},
                 {"job", "api"}, {"zone", zone}, {"le", le}},
          Kind::kBucket);
    }
  }
  return out;
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  int hosts = 200;
  int scrapes = 720;  // 3 hours at 15 s
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--hosts" && i + 1 < argc) {
      hosts = std::atoi(argv[++i]);
    } else if (a == "--scrapes" && i + 1 < argc) {
      scrapes = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--hosts N] [--scrapes N]\n", argv[0]);
      return 2;
    }
  }
  if (hosts <= 0 || scrapes <= 0) {
    std::fprintf(stderr, "quickstart: --hosts and --scrapes must be positive\n");
    return 2;
  }

  std::printf("strata quickstart: %d hosts, %d scrapes at 15 s each\n\n", hosts, scrapes);
  const std::vector<Series> fleet = Fleet(hosts, scrapes);
  size_t total_samples = 0;
  for (const Series& s : fleet) total_samples += s.samples.size();

  // Encode: 120 samples per chunk, as Prometheus's head cuts chunks at this scrape interval.
  constexpr size_t kPerChunk = 120;
  std::vector<std::vector<std::string>> chunks(fleet.size());
  const auto t0 = std::chrono::steady_clock::now();
  size_t bytes = 0;
  for (size_t i = 0; i < fleet.size(); ++i) {
    const auto& samples = fleet[i].samples;
    for (size_t j = 0; j < samples.size(); j += kPerChunk) {
      std::string buf;
      strata::chunkenc::XorAppender app(&buf);
      for (size_t k = j; k < std::min(samples.size(), j + kPerChunk); ++k) {
        app.Append(samples[k].t, samples[k].v);
      }
      bytes += buf.size();
      chunks[i].push_back(std::move(buf));
    }
  }
  const auto t1 = std::chrono::steady_clock::now();

  // Decode everything back and verify it bit for bit.
  size_t decoded = 0, mismatches = 0;
  for (size_t i = 0; i < fleet.size(); ++i) {
    size_t k = 0;
    for (const std::string& c : chunks[i]) {
      strata::chunkenc::XorIterator it(c);
      while (it.Next()) {
        if (!(it.At() == fleet[i].samples[k])) ++mismatches;
        ++k;
        ++decoded;
      }
      if (!it.status().ok()) {
        std::fprintf(stderr, "decode failed for %s: %s\n", fleet[i].lset.ToString().c_str(),
                     it.status().ToString().c_str());
        return 1;
      }
    }
  }
  const auto t2 = std::chrono::steady_clock::now();

  size_t nchunks = 0;
  for (const auto& c : chunks) nchunks += c.size();
  std::printf("  %-28s %14zu\n", "series", fleet.size());
  std::printf("  %-28s %14zu\n", "samples", total_samples);
  std::printf("  %-28s %14zu\n", "XOR chunks", nchunks);
  std::printf("  %-28s %14zu\n", "encoded bytes", bytes);
  std::printf("  %-28s %14.3f\n", "bytes/sample", static_cast<double>(bytes) / total_samples);
  std::printf("  %-28s %14.3f\n", "raw bytes/sample (16 B)", 16.0);
  std::printf("  %-28s %14.1f M/s\n", "encode rate (1 core)",
              total_samples / Seconds(t1 - t0) / 1e6);
  std::printf("  %-28s %14.1f M/s\n", "decode+verify rate (1 core)",
              decoded / Seconds(t2 - t1) / 1e6);
  std::printf("  %-28s %14zu\n", "mismatched samples", mismatches);
  std::printf("\nexample series: %s (%zu samples, %zu chunks)\n",
              fleet[0].lset.ToString().c_str(), fleet[0].samples.size(), chunks[0].size());
  return mismatches == 0 && decoded == total_samples ? 0 : 1;
}
