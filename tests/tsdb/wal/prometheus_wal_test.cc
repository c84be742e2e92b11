// Reads a WAL written by the real Prometheus server (/usr/bin/prometheus, 2.42 on the
// reference machine). The server runs with WAL compression off
// (--no-storage.tsdb.wal-compression; 2.42 compresses with Snappy by default, which strata
// does not read), scrapes itself every second on a free loopback port, and is stopped with
// SIGTERM once its WAL holds two scrapes' samples (polled with a 60 s deadline). Skips
// visibly when the binary is absent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/tsdb/record/record.h"
#include "strata/tsdb/wal/reader.h"
#include "strata/tsdb/wal/segment.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace strata::tsdb::wal {
namespace {

using ::strata::testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr const char* kPrometheus = "/usr/bin/prometheus";
// Contents of testdata/prometheus-2.42-uncompressed/00000000, counted when it was made.
constexpr int kCommittedSeriesRecords = 2;
constexpr int kCommittedSamplesRecords = 7;
constexpr size_t kCommittedSeries = 336;
constexpr size_t kCommittedSamples = 2314;

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Decoded {
  std::vector<record::RefSeries> series;
  std::vector<record::RefSample> samples;
  int samples_records = 0;
  absl::Status status;
};

Decoded DecodeWal(const std::string& dir) {
  Decoded d;
  auto r = Reader::Open({SegmentRange{dir}});
  if (!r.ok()) {
    d.status = r.status();
    return d;
  }
  while ((*r)->Next()) {
    const std::string_view rec = (*r)->record();
    switch (record::GetType(rec)) {
      case record::Type::kSeries:
        d.status = record::DecodeSeries(rec, &d.series);
        break;
      case record::Type::kSamples: {
        const size_t before = d.samples.size();
        d.status = record::DecodeSamples(rec, &d.samples);
        if (d.samples.size() > before) ++d.samples_records;
        break;
      }
      default:
        break;
    }
    if (!d.status.ok()) return d;
  }
  d.status = (*r)->status();
  return d;
}

// Stops `pid` with SIGTERM (SIGKILL after 20 s) and reaps it.
void Stop(pid_t pid) {
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TEST(PrometheusWalTest, DecodesSeriesAndSamplesWrittenByPrometheus) {
  if (::access(kPrometheus, X_OK) != 0) GTEST_SKIP() << kPrometheus << " not installed";
  TempDir tmp;
  const int port = FreePort();
  ASSERT_GT(port, 0);
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  {
    std::ofstream cfg(tmp.Sub("prometheus.yml"));
    cfg << "global:\n  scrape_interval: 1s\n"
        << "scrape_configs:\n  - job_name: self\n    static_configs:\n"
        << "      - targets: ['" << listen << "']\n";
  }
  const std::string data = tmp.Sub("data");
  std::vector<std::string> args = {kPrometheus,
                                   "--config.file=" + tmp.Sub("prometheus.yml"),
                                   "--storage.tsdb.path=" + data,
                                   "--no-storage.tsdb.wal-compression",
                                   "--web.listen-address=" + listen,
                                   "--log.level=warn"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = tmp.Sub("prometheus.log");
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const auto started = std::chrono::system_clock::now();
  const int rc = posix_spawn(&pid, kPrometheus, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ASSERT_EQ(rc, 0) << "posix_spawn " << kPrometheus;

  // Poll until the WAL holds samples from two scrapes, or give up after 60 s.
  const std::string wal = data + "/wal";
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  bool ready = false;
  while (!ready && Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      FAIL() << "prometheus exited early; log:\n" << Slurp(log);
    }
    // A read racing the server may see a half-written page; that only means "not yet".
    const Decoded d = DecodeWal(wal);
    ready = d.samples_records >= 2;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  Stop(pid);
  const auto stopped = std::chrono::system_clock::now();
  ASSERT_TRUE(ready) << "no samples in " << wal << " within 60 s; log:\n" << Slurp(log);

  const Decoded d = DecodeWal(wal);
  STRATA_ASSERT_OK(d.status);
  ASSERT_GT(d.series.size(), 10u);
  ASSERT_GE(d.samples_records, 2);
  std::set<model::SeriesRef> refs;
  bool saw_up = false;
  for (const auto& s : d.series) {
    EXPECT_TRUE(refs.insert(s.ref).second) << "series ref " << s.ref << " logged twice";
    EXPECT_FALSE(s.labels.MetricName().empty()) << s.labels.ToString();
    EXPECT_EQ(s.labels.Get("job"), "self") << s.labels.ToString();
    if (s.labels.MetricName() == "up") saw_up = true;
  }
  EXPECT_TRUE(saw_up);
  const int64_t lo = std::chrono::duration_cast<std::chrono::milliseconds>(
                         started.time_since_epoch()).count() - 5000;
  const int64_t hi = std::chrono::duration_cast<std::chrono::milliseconds>(
                         stopped.time_since_epoch()).count() + 5000;
  for (const auto& s : d.samples) {
    EXPECT_TRUE(refs.count(s.ref)) << "sample for unknown series ref " << s.ref;
    EXPECT_GE(s.t, lo);
    EXPECT_LE(s.t, hi);
  }
}

// The committed segment from the same server (testdata/README.md): every record decodes and
// re-encodes to exactly Prometheus's bytes, which pins our encoders to upstream's.
TEST(PrometheusWalTest, ReencodingCommittedPrometheusRecordsReproducesTheirBytes) {
  const char* src = std::getenv("STRATA_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "STRATA_SOURCE_DIR not set (run through meson test)";
  const std::string dir =
      std::string(src) + "/tests/tsdb/wal/testdata/prometheus-2.42-uncompressed";
  STRATA_ASSERT_OK_AND_ASSIGN(auto r, Reader::Open({SegmentRange{dir}}));
  int series_records = 0, samples_records = 0;
  size_t series = 0, samples = 0;
  std::set<model::SeriesRef> refs;
  while (r->Next()) {
    const std::string rec(r->record());
    std::string again;
    switch (record::GetType(rec)) {
      case record::Type::kSeries: {
        std::vector<record::RefSeries> got;
        STRATA_ASSERT_OK(record::DecodeSeries(rec, &got));
        for (const auto& s : got) refs.insert(s.ref);
        record::EncodeSeries(got, &again);
        ++series_records;
        series += got.size();
        break;
      }
      case record::Type::kSamples: {
        std::vector<record::RefSample> got;
        STRATA_ASSERT_OK(record::DecodeSamples(rec, &got));
        for (const auto& s : got) EXPECT_TRUE(refs.count(s.ref)) << "unknown ref " << s.ref;
        record::EncodeSamples(got, &again);
        ++samples_records;
        samples += got.size();
        break;
      }
      default:
        ADD_FAILURE() << "unexpected record type " << static_cast<int>(rec[0]) << " at offset "
                      << r->offset();
        continue;
    }
    EXPECT_EQ(again, rec) << "record at offset " << r->offset();
  }
  STRATA_ASSERT_OK(r->status());
  EXPECT_EQ(series_records, kCommittedSeriesRecords);
  EXPECT_EQ(samples_records, kCommittedSamplesRecords);
  EXPECT_EQ(series, kCommittedSeries);
  EXPECT_EQ(samples, kCommittedSamples);
}

}  // namespace
}  // namespace strata::tsdb::wal
