// strata-bench-head-memory: heap bytes per active head series.
//
//   strata-bench-head-memory [--series N] [--samples N]
//
// Builds a head of N series (default 200000) with node-exporter-sized label sets (10 labels,
// about 150 bytes of label text) and appends `--samples` samples to each (default 120: one
// full chunk at a 15s interval), then reports the growth of malloc's in-use bytes
// (mallinfo2() uordblks + hblkhd, which includes allocator overhead) and of RSS per series. The
// figure includes everything the head holds for a series: the series struct, its labels,
// its chunk bytes, the registry maps and the postings index.
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "strata/model/labels.h"
#include "strata/tsdb/head.h"

namespace {

using strata::model::Labels;

constexpr const char* kNames[] = {
    "node_cpu_seconds_total", "node_network_receive_bytes_total",
    "node_network_transmit_bytes_total", "node_disk_read_bytes_total",
    "node_disk_written_bytes_total", "node_filesystem_avail_bytes",
    "node_memory_MemAvailable_bytes", "node_context_switches_total",
    "node_intr_total", "node_load1"};

// Series i: 1000 per instance; 10 metric names x 100 "cpu" values per instance.
Labels SeriesLabels(int i) {
  const int inst = i / 1000, k = i % 1000;
  char instance[32];
  std::snprintf(instance, sizeof(instance), "10.%d.%d.%d:9100", (inst >> 16) & 255,
                (inst >> 8) & 255, inst & 255);
  const std::string cpu = std::to_string(k / 10);
  return Labels{{"__name__", kNames[k % 10]},
                {"instance", instance},
                {"job", "node"},
                {"cluster", "prod-eu-west-1"},
                {"env", "production"},
                {"region", "eu-west-1"},
                {"team", "infrastructure"},
                {"datacenter", "dc-a"},
                {"cpu", cpu},
                {"mode", k % 2 == 0 ? "idle" : "user"}};
}

// Bytes in use: small blocks (uordblks) plus mmap-ed large blocks (hblkhd), which hold the
// long postings lists.
size_t InUse() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

size_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * 4096;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, which turns on absl::Mutex deadlock detection
  // process-wide (a cycle-graph update on every nested lock). Production builds of Abseil
  // have it off; match them.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  int n = 200000, samples = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view a = argv[i];
    if (a == "--series") {
      n = std::atoi(argv[i + 1]);
    } else if (a == "--samples") {
      samples = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: strata-bench-head-memory [--series N] [--samples N]\n");
      return 2;
    }
  }
  size_t text = 0;
  for (int i = 0; i < 1000; ++i) text += SeriesLabels(i).text_bytes();

  std::vector<strata::model::SeriesRef> refs(n, 0);  // the caller's refs, not the head's
  std::vector<double> values(n, 0);
  malloc_trim(0);
  const size_t heap0 = InUse(), rss0 = RssBytes();
  auto head = std::make_unique<strata::tsdb::Head>();
  const size_t heap_empty = InUse();
  std::mt19937_64 rng(42);
  for (int s = 0; s < samples; ++s) {
    auto app = head->NewAppender();
    const int64_t t = 1'700'000'000'000 + int64_t{s} * 15'000;
    for (int i = 0; i < n; ++i) {
      // Half counters with small integer increments, half slowly changing gauges, as in
      // node_exporter output.
      if (i % 2 == 0) {
        values[i] += static_cast<double>(rng() % 100);
      } else if (rng() % 8 == 0) {
        values[i] = static_cast<double>(rng() % 1'000'000);
      }
      auto ref = app->Append(refs[i], refs[i] == 0 ? SeriesLabels(i) : Labels(), t, values[i]);
      if (!ref.ok()) {
        std::fprintf(stderr, "append: %s\n", ref.status().ToString().c_str());
        return 1;
      }
      refs[i] = *ref;
    }
    if (absl::Status st = app->Commit(); !st.ok()) {
      std::fprintf(stderr, "commit: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  const size_t heap1 = InUse(), rss1 = RssBytes();
  size_t chunk_bytes = 0, chunks = 0;
  head->ForEachSeries([&](strata::model::SeriesRef, const Labels&,
                          std::span<const strata::tsdb::HeadChunkView> cs) {
    for (const auto& c : cs) {
      chunk_bytes += c.bytes.size();
      ++chunks;
    }
  });
  const auto st = head->Stats();
  std::printf("series: %d, samples/series: %d, chunks: %zu, label text bytes/series: %.1f\n",
              n, samples, chunks, static_cast<double>(text) / 1000);
  std::printf("chunk data bytes/series: %.1f\n", static_cast<double>(chunk_bytes) / n);
  std::printf("empty head heap bytes: %zu\n", heap_empty - heap0);
  std::printf("heap bytes/series (mallinfo2 uordblks+hblkhd delta, excl. empty head): %.1f\n",
              static_cast<double>(heap1 - heap_empty) / n);
  std::printf("heap bytes/series (incl. empty head): %.1f\n",
              static_cast<double>(heap1 - heap0) / n);
  std::printf("rss bytes/series: %.1f\n", static_cast<double>(rss1 - rss0) / n);
  std::printf("head stats: series=%llu chunks=%llu samples=%llu\n",
              static_cast<unsigned long long>(st.num_series),
              static_cast<unsigned long long>(st.num_chunks),
              static_cast<unsigned long long>(st.samples_appended));
  return 0;
}
