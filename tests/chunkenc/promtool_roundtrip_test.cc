// Proof of byte compatibility with Prometheus 2.42: chunks written by promtool are decoded
// with XorIterator and re-encoded with XorAppender (2.42 mode); every byte must match.
//
// Live test: generates a realistic OpenMetrics file (fixed seed), runs
// `promtool tsdb create-blocks-from openmetrics FILE OUTDIR`, and checks every chunk of
// every block. Fixture test: the same check on a small block committed under
// testdata/promtool_block/ (see its README), so it also runs where promtool is absent.
//
// The chunk segment parsing here is test code; the block reader belongs to lib/tsdb.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "base/coding.h"
#include "base/crc32c.h"
#include "strata/chunkenc/xor.h"
#include "testing/status_matchers.h"

namespace strata::chunkenc {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kSegmentMagic = 0x85BD40DD;

// ---------------------------------------------------------------------------------------
// OpenMetrics generator.

struct OmConfig {
  uint64_t seed = 1;
  int counters = 0;      // series of family app_http_requests (counter, _total samples)
  int gauges = 0;        // series of app_temperature_celsius (noisy float gauge)
  int int_gauges = 0;    // series of app_queue_length (integer gauge)
  int histograms = 0;    // label sets of app_request_duration_seconds (histogram)
  int buckets = 0;       // finite buckets per histogram (plus +Inf, _sum, _count)
  int ups = 0;           // series of up (constant 1)
  int samples = 0;       // samples per series, 15 s apart with scrape jitter
  int64_t start_ms = 0;  // first scrape
};

struct OmFile {
  std::string text;
  size_t series = 0;
  size_t samples = 0;
  std::vector<uint64_t> value_bits;  // every sample value, as written (exact: %.17g)
};

class OmWriter {
 public:
  explicit OmWriter(const OmConfig& c) : c_(c), rng_(c.seed) {}

  OmFile Write() {
    // Counters with resets.
    Family("app_http_requests", "counter", "Requests served.");
    for (int s = 0; s < c_.counters; ++s) {
      double v = static_cast<double>(rng_() % 100000);
      const bool fractional = rng_() % 3 == 0;
      Series(Labels("app_http_requests_total", s), [&](int i) {
        if (i > 0) {
          if (rng_() % 300 == 0) {
            v = 0;
          } else {
            v += fractional ? 0.001 * static_cast<double>(rng_() % 20000)
                            : static_cast<double>(rng_() % 40);
          }
        }
        return v;
      });
    }
    Family("app_temperature_celsius", "gauge", "Noisy float gauge.");
    for (int s = 0; s < c_.gauges; ++s) {
      double v = 20 + 10 * Unit();
      Series(Labels("app_temperature_celsius", s), [&](int) { return v += Unit() - 0.5; });
    }
    Family("app_queue_length", "gauge", "Integer gauge.");
    for (int s = 0; s < c_.int_gauges; ++s) {
      double v = static_cast<double>(rng_() % 50);
      Series(Labels("app_queue_length", s), [&](int) {
        if (rng_() % 3 == 0) v = std::max(0.0, v + static_cast<double>(rng_() % 7) - 3);
        return v;
      });
    }
    // Histograms: cumulative buckets, _sum and _count; all series of a label set are
    // generated from the same per-scrape observations.
    Family("app_request_duration_seconds", "histogram", "Request latency.");
    for (int s = 0; s < c_.histograms; ++s) {
      std::vector<std::vector<double>> counts(static_cast<size_t>(c_.samples),
                                              std::vector<double>(c_.buckets + 1));
      std::vector<double> sums(static_cast<size_t>(c_.samples));
      std::vector<double> cum(c_.buckets + 1, 0.0);
      double sum = 0;
      for (int i = 0; i < c_.samples; ++i) {
        const int obs = static_cast<int>(rng_() % 20);
        for (int o = 0; o < obs; ++o) {
          const double lat = 0.005 * std::pow(2.0, 6 * Unit());
          sum += lat;
          for (int b = 0; b <= c_.buckets; ++b) {
            if (b == c_.buckets || lat <= Le(b)) cum[b] += 1;
          }
        }
        counts[i] = cum;
        sums[i] = sum;
      }
      const std::string base = Labels("app_request_duration_seconds", s);
      for (int b = 0; b <= c_.buckets; ++b) {
        char le[64];
        if (b == c_.buckets) {
          std::snprintf(le, sizeof(le), "+Inf");
        } else {
          std::snprintf(le, sizeof(le), "%.6g", Le(b));
        }
        std::string name = base;
        name.insert(name.find('{'), "_bucket");
        name.insert(name.size() - 1, std::string(",le=\"") + le + "\"");
        Series(name, [&](int i) { return counts[i][b]; });
      }
      std::string sum_name = base;
      sum_name.insert(sum_name.find('{'), "_sum");
      Series(sum_name, [&](int i) { return sums[i]; });
      std::string count_name = base;
      count_name.insert(count_name.find('{'), "_count");
      Series(count_name, [&](int i) { return counts[i][c_.buckets]; });
    }
    Family("up", "gauge", "Target health.");
    for (int s = 0; s < c_.ups; ++s) Series(Labels("up", s), [](int) { return 1.0; });
    out_.text += "# EOF\n";
    return std::move(out_);
  }

 private:
  double Unit() { return static_cast<double>(rng_() >> 11) * 0x1p-53; }
  double Le(int b) const { return 0.005 * std::pow(2.0, b * 6.0 / c_.buckets); }

  static std::string Labels(const std::string& name, int s) {
    static const char* kCodes[] = {"200", "404", "500"};
    return name + "{instance=\"host-" + std::to_string(s / 3) + ":9100\",job=\"app\",code=\"" +
           kCodes[s % 3] + "\"}";
  }

  void Family(const char* name, const char* type, const char* help) {
    out_.text += std::string("# TYPE ") + name + " " + type + "\n# HELP " + name + " " + help +
                 "\n";
  }

  template <typename ValueFn>
  void Series(const std::string& name, ValueFn value) {
    ++out_.series;
    int64_t t = c_.start_ms + static_cast<int64_t>(rng_() % 15000);
    char line[256];
    for (int i = 0; i < c_.samples; ++i) {
      if (i > 0) t += 15000 + (rng_() % 2 == 0 ? 0 : static_cast<int64_t>(rng_() % 11) - 5);
      const double v = value(i);
      std::snprintf(line, sizeof(line), " %.17g %" PRId64 ".%03" PRId64 "\n", v, t / 1000,
                    t % 1000);
      out_.text += name;
      out_.text += line;
      out_.value_bits.push_back(std::bit_cast<uint64_t>(v));
      ++out_.samples;
    }
  }

  OmConfig c_;
  std::mt19937_64 rng_;
  OmFile out_;
};

// ---------------------------------------------------------------------------------------
// Chunk segment files (tsdb-format.md section 4).

struct CheckResult {
  size_t files = 0;
  size_t chunks = 0;
  size_t samples = 0;
  size_t bytes_compared = 0;
  size_t bytes_differing = 0;
  size_t extra_byte_chunks = 0;  // chunks whose 3.x encoding is one byte shorter
  std::vector<uint64_t> value_bits;
};

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Parses one segment file, verifying header and CRCs; decodes each XOR chunk, re-encodes its
// samples in 2.42 mode and compares the bytes.
void CheckSegment(const fs::path& path, CheckResult* r) {
  SCOPED_TRACE(path.string());
  const std::string file = ReadFile(path);
  ASSERT_GE(file.size(), 8u);
  base::Decoder d(file);
  ASSERT_EQ(d.BE32(), kSegmentMagic);
  ASSERT_EQ(d.Byte(), 1);  // format version
  d.Skip(3);
  ++r->files;
  while (d.remaining() > 0) {
    const size_t offset = d.offset();
    const uint64_t len = d.Uvarint();
    const std::string_view enc_and_data = d.Bytes(len + 1);
    const uint32_t crc = d.BE32();
    ASSERT_TRUE(d.ok()) << d.err() << " at offset " << offset;
    ASSERT_EQ(base::Crc32c(enc_and_data), crc) << "chunk at offset " << offset;
    ASSERT_EQ(static_cast<uint8_t>(enc_and_data[0]), static_cast<uint8_t>(Encoding::kXor))
        << "chunk at offset " << offset;
    const std::string_view data = enc_and_data.substr(1);
    XorIterator it(data);
    std::string re;
    std::string re3;
    XorAppender app(&re, XorOptions{.prometheus_2_42 = true});
    XorAppender app3(&re3, XorOptions{.prometheus_2_42 = false});
    while (it.Next()) {
      app.Append(it.At().t, it.At().v);
      app3.Append(it.At().t, it.At().v);
      r->value_bits.push_back(std::bit_cast<uint64_t>(it.At().v));
      ++r->samples;
    }
    STRATA_ASSERT_OK(it.status());
    ++r->chunks;
    r->bytes_compared += data.size();
    size_t differing = std::max(re.size(), data.size()) - std::min(re.size(), data.size());
    for (size_t i = 0; i < std::min(re.size(), data.size()); ++i) differing += re[i] != data[i];
    r->bytes_differing += differing;
    // 3.x bytes: the same, less the 2.42 trailing zero byte where there is one.
    if (re3.size() + 1 == data.size()) {
      ++r->extra_byte_chunks;
      EXPECT_EQ(data.back(), '\0');
    } else {
      EXPECT_EQ(re3.size(), data.size());
    }
    EXPECT_TRUE(data.substr(0, re3.size()) == re3) << "chunk at offset " << offset;
    EXPECT_EQ(differing, 0u) << "chunk at offset " << offset << " (" << it.num_samples()
                             << " samples, " << data.size() << " bytes)";
  }
}

CheckResult CheckBlocks(const fs::path& dir) {
  CheckResult r;
  std::vector<fs::path> segments;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().parent_path().filename() == "chunks") {
      segments.push_back(e.path());
    }
  }
  std::sort(segments.begin(), segments.end());
  for (const auto& p : segments) {
    CheckSegment(p, &r);
    if (::testing::Test::HasFatalFailure()) break;
  }
  return r;
}

// ---------------------------------------------------------------------------------------

// 1,120 series x 150 scrapes at 15 s: 168,000 samples; the range straddles a 2 h boundary,
// so promtool writes two blocks.
OmConfig LiveConfig() {
  return OmConfig{.seed = 20260101,
                  .counters = 330,
                  .gauges = 300,
                  .int_gauges = 200,
                  .histograms = 20,
                  .buckets = 8,
                  .ups = 90,
                  .samples = 150,
                  .start_ms = 1767225600000 - 20 * 60 * 1000};  // 20 min before a 2 h boundary
}

// The committed fixture: 5 series (a counter, a gauge, a histogram with only its +Inf
// bucket, _sum and _count) x 130 scrapes inside one 2 h block; the head cuts each series
// after 120 samples (30 min), so every series has two chunks.
OmConfig FixtureConfig() {
  return OmConfig{.seed = 7,
                  .counters = 1,
                  .gauges = 1,
                  .int_gauges = 0,
                  .histograms = 1,
                  .buckets = 0,
                  .ups = 0,
                  .samples = 130,
                  .start_ms = 1767225600000};
}

TEST(PromtoolRoundTripTest, ReencodesEveryPromtoolChunkByteForByte) {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  const OmFile om = OmWriter(LiveConfig()).Write();
  ASSERT_GE(om.series, 1000u);
  ASSERT_GE(om.samples, 100000u);
  const fs::path tmp =
      fs::temp_directory_path() / ("strata_chunkenc_promtool_" + std::to_string(getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp / "out");
  {
    std::ofstream f(tmp / "input.om", std::ios::binary);
    f << om.text;
  }
  const std::string cmd = std::string(promtool) + " tsdb create-blocks-from openmetrics " +
                          (tmp / "input.om").string() + " " + (tmp / "out").string() + " > " +
                          (tmp / "promtool.log").string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << cmd << "\n" << ReadFile(tmp / "promtool.log");

  CheckResult r = CheckBlocks(tmp / "out");
  std::printf("promtool round trip: %zu series, %zu segment files, %zu chunks, %zu samples, "
              "%zu chunk bytes compared, %zu differing; %zu chunks carry the 2.42 extra zero byte\n",
              om.series, r.files, r.chunks, r.samples, r.bytes_compared, r.bytes_differing,
              r.extra_byte_chunks);
  EXPECT_GE(r.files, 2u);  // two blocks
  EXPECT_EQ(r.samples, om.samples);
  EXPECT_EQ(r.bytes_differing, 0u);
  EXPECT_GT(r.extra_byte_chunks, 0u);  // the 2.42 quirk is exercised
  // Every value written to the file came back (timestamps are converted by promtool from
  // float seconds, values are exact).
  std::vector<uint64_t> want = om.value_bits;
  std::sort(want.begin(), want.end());
  std::sort(r.value_bits.begin(), r.value_bits.end());
  EXPECT_TRUE(want == r.value_bits);
  fs::remove_all(tmp);
}

// The fixture's input.om is exactly what the generator produces for FixtureConfig(), and its
// chunks re-encode byte for byte.
TEST(PromtoolRoundTripTest, CommittedFixtureBlockReencodesByteForByte) {
  const char* src = std::getenv("STRATA_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "run through meson test (STRATA_SOURCE_DIR)";
  const fs::path dir = fs::path(src) / "tests/chunkenc/testdata/promtool_block";
  const OmFile om = OmWriter(FixtureConfig()).Write();
  // Regeneration hook (testdata README): also write the generated input to this path.
  if (const char* out = std::getenv("STRATA_WRITE_OM_FIXTURE")) {
    std::ofstream f(out, std::ios::binary);
    f << om.text;
    ASSERT_TRUE(f.good()) << out;
  }
  EXPECT_TRUE(ReadFile(dir / "input.om") == om.text) << "regenerate per testdata README";
  CheckResult r = CheckBlocks(dir);
  EXPECT_EQ(r.files, 1u);
  EXPECT_EQ(r.samples, om.samples);
  EXPECT_EQ(r.chunks, 2 * om.series);
  EXPECT_EQ(r.bytes_differing, 0u);
  std::vector<uint64_t> want = om.value_bits;
  std::sort(want.begin(), want.end());
  std::sort(r.value_bits.begin(), r.value_bits.end());
  EXPECT_TRUE(want == r.value_bits);
  std::printf("fixture: %zu chunks, %zu samples, %zu bytes compared\n", r.chunks, r.samples,
              r.bytes_compared);
}

}  // namespace
}  // namespace strata::chunkenc
