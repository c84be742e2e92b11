#include "strata/chunkenc/xor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "base/coding.h"
#include "chunkenc/xor_reference.h"
#include "chunkenc/xor_testing.h"
#include "chunkenc/xor_shapes.h"
#include "testing/status_matchers.h"

namespace strata::chunkenc {
namespace {

using ::strata::chunkenc::testing::GenerateSeries;
using ::strata::chunkenc::testing::RefXorAppender;
using ::strata::chunkenc::testing::RefXorDecode;
using ::strata::chunkenc::testing::Shape;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr XorOptions k242{.prometheus_2_42 = true};
constexpr XorOptions k3x{.prometheus_2_42 = false};

// Runs `check` with the decode loop built for baseline x86-64 (on CPUs with BMI2 and MOVBE
// the iterator otherwise always runs the other build), then restores the choice.
template <class Check>
void OnBaselineBuild(Check check) {
  internal::ForceBaselineDecodeForTesting(true);
  check();
  internal::ForceBaselineDecodeForTesting(false);
}

std::string Hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

std::string Encode(const std::vector<model::Sample>& samples, XorOptions opts) {
  std::string buf;
  XorAppender app(&buf, opts);
  for (const auto& s : samples) app.Append(s.t, s.v);
  return buf;
}

absl::StatusOr<std::vector<model::Sample>> Decode(std::string_view chunk) {
  std::vector<model::Sample> out;
  XorIterator it(chunk);
  while (it.Next()) out.push_back(it.At());
  if (!it.status().ok()) return it.status();
  return out;
}

// Appends every sample with both the fast writer and the bit-at-a-time reference model of
// upstream's bstream, comparing the bytes after each append.
void ExpectMatchesReference(const std::vector<model::Sample>& samples, XorOptions opts,
                            uint64_t seed) {
  std::string buf;
  XorAppender app(&buf, opts);
  RefXorAppender ref(opts.prometheus_2_42);
  for (size_t i = 0; i < samples.size(); ++i) {
    app.Append(samples[i].t, samples[i].v);
    ref.Append(samples[i].t, samples[i].v);
    ASSERT_EQ(Hex(buf), Hex(ref.bytes()))
        << "seed " << seed << " sample " << i << " 2.42=" << opts.prometheus_2_42;
  }
}

// Reads `n` bits at bit offset `pos` of the stream after the 2-byte count.
uint64_t StreamBits(const std::string& chunk, size_t pos, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i, ++pos) {
    const auto byte = static_cast<uint8_t>(chunk[2 + pos / 8]);
    v = (v << 1) | ((byte >> (7 - pos % 8)) & 1);
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// Known bytes: the worked example of tsdb-format.md section 4 (promtool 2.42 output).

TEST(XorAppenderTest, WorkedExampleMatchesPromtool242Bytes) {
  const std::string want_up_x = Bytes({0x00, 0x04, 0x00, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x98, 0x75, 0x31, 0x15, 0xff, 0xaf, 0xfc});
  const std::string want_up_y =
      Bytes({0x00, 0x01, 0x00, 0x40, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(Hex(Encode({{0, 1}, {15000, 1}, {30000, 0}, {45000, 1}}, k242)), Hex(want_up_x));
  EXPECT_EQ(Hex(Encode({{0, 2.5}}, k242)), Hex(want_up_y));
  // 3.x: same bits; the 1-sample chunk loses its extra zero byte, the other is unchanged
  // (its last write is a single bit).
  EXPECT_EQ(Hex(Encode({{0, 1}, {15000, 1}, {30000, 0}, {45000, 1}}, k3x)), Hex(want_up_x));
  EXPECT_EQ(Hex(Encode({{0, 2.5}}, k3x)), Hex(want_up_y.substr(0, want_up_y.size() - 1)));
}

TEST(XorIteratorTest, DecodesWorkedExample) {
  const std::string chunk = Bytes({0x00, 0x04, 0x00, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00,
                                   0x00, 0x98, 0x75, 0x31, 0x15, 0xff, 0xaf, 0xfc});
  STRATA_ASSERT_OK_AND_ASSIGN(auto got, Decode(chunk));
  EXPECT_EQ(got, (std::vector<model::Sample>{{0, 1}, {15000, 1}, {30000, 0}, {45000, 1}}));
  for (const std::string& c :
       {Bytes({0x00, 0x01, 0x00, 0x40, 0x04, 0, 0, 0, 0, 0, 0, 0}),
        Bytes({0x00, 0x01, 0x00, 0x40, 0x04, 0, 0, 0, 0, 0, 0})}) {
    STRATA_ASSERT_OK_AND_ASSIGN(auto one, Decode(c));
    EXPECT_EQ(one, (std::vector<model::Sample>{{0, 2.5}}));
  }
}

TEST(XorAppenderTest, EmptyChunkIsTwoZeroBytes) {
  std::string buf = "garbage";
  XorAppender app(&buf, k242);
  EXPECT_EQ(buf, std::string(2, '\0'));
  EXPECT_EQ(app.num_samples(), 0);
  STRATA_ASSERT_OK_AND_ASSIGN(auto got, Decode(buf));
  EXPECT_TRUE(got.empty());
}

// ---------------------------------------------------------------------------------------
// Property tests against the reference model and round trips, fixed seeds.

std::vector<model::Sample> SpecialValues(std::mt19937_64& rng, int n) {
  const double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                             std::bit_cast<double>(uint64_t{0x7ff8000000000001}),  // Go NaN
                             model::kStaleNaN,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             0.0,
                             -0.0,
                             std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::lowest(),
                             1.0,
                             42.0};
  std::vector<model::Sample> out;
  int64_t t = -1000000;
  for (int i = 0; i < n; ++i) {
    t += 1 + static_cast<int64_t>(rng() % 30000);
    out.push_back({t, specials[rng() % std::size(specials)]});
  }
  return out;
}

// Timestamps with every dod width (including both asymmetric boundaries of each bucket and
// 64-bit ones) and random value bit patterns (every leading/trailing combination).
std::vector<model::Sample> WildSeries(std::mt19937_64& rng, int n) {
  static const int64_t kDods[] = {0,      1,       -1,      8191,    8192,    -8191,
                                  -8192,  8193,    65535,   65536,   -65535,  -65536,
                                  65537,  524287,  524288,  -524287, -524288, 524289,
                                  1 << 30, -(int64_t{1} << 40)};
  std::vector<model::Sample> out;
  int64_t t = static_cast<int64_t>(rng());  // anywhere, negative included
  int64_t delta = static_cast<int64_t>(rng() % 100000);
  uint64_t vbits = rng();
  for (int i = 0; i < n; ++i) {
    if (i > 0) {
      delta += kDods[rng() % std::size(kDods)];
      // Wrapping on purpose: the format is modular (uint64 deltas), as upstream's.
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + static_cast<uint64_t>(delta));
      switch (rng() % 5) {
        case 0: break;                                            // same value
        case 1: vbits ^= uint64_t{1} << (rng() % 64); break;      // one bit
        case 2: vbits ^= rng() >> (rng() % 64); break;            // low bits
        case 3: vbits ^= rng() << (rng() % 64); break;            // high bits
        default: vbits = rng(); break;                            // anything, S = 64 often
      }
    }
    out.push_back({t, std::bit_cast<double>(vbits)});
  }
  return out;
}

std::vector<std::vector<model::Sample>> PropertyCorpus(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<model::Sample>> all;
  for (Shape s : {Shape::kCounter, Shape::kGauge, Shape::kConstant, Shape::kIntGauge,
                  Shape::kMix, Shape::kRealConstant, Shape::kRealCounter,
                  Shape::kRealFloatCounter, Shape::kRealIntGauge, Shape::kRealGauge}) {
    for (int n : {1, 2, 3, 7, 120, 240}) all.push_back(GenerateSeries(s, rng(), n));
  }
  for (int n : {1, 2, 5, 64, 300}) all.push_back(SpecialValues(rng, n));
  for (int i = 0; i < 40; ++i) all.push_back(WildSeries(rng, 1 + static_cast<int>(rng() % 200)));
  // Extreme timestamps and S = 64 / clamped-leading values.
  all.push_back({{std::numeric_limits<int64_t>::min(), 0},
                 {std::numeric_limits<int64_t>::max(), std::bit_cast<double>(~uint64_t{0})},
                 {0, std::bit_cast<double>(uint64_t{0x8000000000000001})},
                 {1, std::bit_cast<double>(uint64_t{1})},
                 {2, std::bit_cast<double>(uint64_t{0xffffffffffffffff})}});
  all.push_back({{-5, 0},
                 {-4, std::bit_cast<double>(uint64_t{0x8000000000000001})},   // L=0 T=0 S=64
                 {-3, 0},                                                     // reuse, S=64
                 {-2, std::bit_cast<double>(uint64_t{0x0000000000f00000})},   // clz 40 -> 31
                 {-1, std::bit_cast<double>(uint64_t{0x0000000000f00001})}});
  return all;
}

TEST(XorAppenderTest, BytesMatchUpstreamBstreamModelBothVersions) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    for (const auto& samples : PropertyCorpus(seed)) {
      ExpectMatchesReference(samples, k242, seed);
      ExpectMatchesReference(samples, k3x, seed);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(XorIteratorTest, RoundTripsEveryShape) {
  for (uint64_t seed : {11u, 12u}) {
    for (const auto& samples : PropertyCorpus(seed)) {
      for (XorOptions opts : {k242, k3x}) {
        const std::string chunk = Encode(samples, opts);
        STRATA_ASSERT_OK_AND_ASSIGN(auto got, Decode(chunk));
        ASSERT_EQ(got, samples) << "seed " << seed;
        XorIterator it(chunk);
        EXPECT_EQ(it.num_samples(), static_cast<int>(samples.size()));
      }
    }
  }
}

TEST(XorAppenderTest, ByteLengthsDifferOnlyByTheExtraZeroByte) {
  for (const auto& samples : PropertyCorpus(21)) {
    std::string b242;
    std::string b3;
    XorAppender a242(&b242, k242);
    XorAppender a3(&b3, k3x);
    for (const auto& s : samples) {
      a242.Append(s.t, s.v);
      a3.Append(s.t, s.v);
      ASSERT_EQ(b242.substr(0, b3.size()), b3);
      ASSERT_LE(b242.size(), b3.size() + 1);
      if (b242.size() == b3.size() + 1) {
        EXPECT_EQ(b242.back(), '\0');
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Write paths. Append writes most samples as one or two 64-bit words over the partial last
// byte when the buffer has 16 bytes of spare capacity, and the rest (samples 0 and 1, dods
// beyond 14 bits, a fuller buffer) field by field. Both are checked against the
// bit-at-a-time model, for samples starting at every bit of a byte.

// Codes of every length: dods of 0, within and at both edges of the 14-bit bucket, and of
// every wider bucket; unchanged values, values inside the last new window, and new windows
// of 1..64 significant bits with 0..40 leading zeros (whole bytes half the time, so that
// 2.42's spare byte appears often).
std::vector<model::Sample> CodeLengthSeries(std::mt19937_64& rng, int n) {
  static const int64_t kEdges[] = {8192, -8191, 8193, -8192, 1, -1, 524288, -524288};
  std::vector<model::Sample> out;
  uint64_t t = rng();
  uint64_t delta = rng() % 100000;
  uint64_t vbits = rng();
  int lead = 0;  // the last new window
  int sig = 64;
  for (int i = 0; i < n; ++i) {
    if (i > 0) {
      uint64_t dod = 0;
      switch (rng() % 10) {
        case 0: case 1: case 2: case 3: dod = 0; break;
        case 4: case 5: dod = rng() % 201 - 100; break;
        case 6: dod = rng() % 16384 - 8191; break;  // the whole 14-bit bucket
        case 7: dod = static_cast<uint64_t>(kEdges[rng() % std::size(kEdges)]); break;
        case 8: dod = rng() % 1048576 - 524287; break;  // up to the 20-bit bucket
        default: dod = (rng() >> (rng() % 64)) * ((rng() & 1) != 0 ? 1 : ~uint64_t{0}); break;
      }
      delta += dod;  // wrapping: the format is modular
      t += delta;
      const auto window_bits = [&] {
        const uint64_t bits = sig == 64 ? rng() : rng() & ((uint64_t{1} << sig) - 1);
        return bits << (64 - lead - sig);
      };
      switch (rng() % 4) {
        case 0: break;  // unchanged
        case 1: {       // a new window, both ends set
          lead = static_cast<int>(rng() % 41);
          const int max_sig = 64 - lead;
          sig = 1 + static_cast<int>(rng() % static_cast<uint64_t>(max_sig));
          if ((rng() & 1) != 0 && max_sig >= 8) sig = std::max(8, sig / 8 * 8);
          vbits ^= window_bits() | (uint64_t{1} << (63 - lead)) |
                   (uint64_t{1} << (64 - lead - sig));
          break;
        }
        default: {  // inside the last window
          const uint64_t x = window_bits();
          vbits ^= x != 0 ? x : uint64_t{1} << (64 - lead - sig);
          break;
        }
      }
    }
    out.push_back({static_cast<int64_t>(t), std::bit_cast<double>(vbits)});
  }
  return out;
}

TEST(XorAppenderTest, WritePathsMatchReferenceAtEveryBitPosition) {
  std::mt19937_64 rng(61);
  int with_spare_capacity = 0;  // samples >= 2 with >= 16 bytes of spare capacity
  int without = 0;
  int at_offset[8] = {};  // samples >= 2 by the bit of the byte they start at
  int spare_zero_bytes = 0;
  int resumed = 0;
  int resumed_at_spare_byte = 0;
  for (int iter = 0; iter < 400; ++iter) {
    const bool v2_42 = iter % 2 == 0;
    const std::vector<model::Sample> samples =
        CodeLengthSeries(rng, 1 + static_cast<int>(rng() % 200));
    const int capacity_mode = static_cast<int>(rng() % 3);  // grow / reserved / squeezed
    std::string buf;
    if (capacity_mode == 1) buf.reserve(4096);
    XorAppender app(&buf, {.prometheus_2_42 = v2_42});
    RefXorAppender ref(v2_42);
    for (size_t i = 0; i < samples.size(); ++i) {
      if (capacity_mode == 2 && rng() % 3 == 0) {
        // The same bytes in a buffer with little spare capacity (the appender holds the
        // string, not its storage).
        std::string squeezed;
        squeezed.reserve(buf.size() + rng() % 24);
        squeezed.assign(buf);
        buf.swap(squeezed);
      }
      const size_t capacity_before = buf.capacity();
      if (i >= 2) {
        ++(buf.size() + 16 <= capacity_before ? with_spare_capacity : without);
        ++at_offset[ref.stream_bits() % 8];
      }
      app.Append(samples[i].t, samples[i].v);
      ref.Append(samples[i].t, samples[i].v);
      ASSERT_EQ(Hex(buf), Hex(ref.bytes()))
          << "iter " << iter << " sample " << i << " 2.42=" << v2_42;
      ASSERT_EQ(app.num_samples(), static_cast<int>(i + 1));
      // Capacity grows only when the chunk outgrows it, as with exact appends.
      if (buf.capacity() != capacity_before) {
        ASSERT_GT(buf.size(), capacity_before) << "iter " << iter << " sample " << i;
      }
      spare_zero_bytes += ref.spare_byte() ? 1 : 0;
      if (rng() % 16 == 0) {
        const bool resume_2_42 = (rng() & 1) != 0;
        STRATA_ASSERT_OK_AND_ASSIGN(app,
                                    XorAppender::Resume(&buf, {.prometheus_2_42 = resume_2_42}));
        ref.Resume(resume_2_42);
        ++resumed;
        resumed_at_spare_byte += ref.spare_byte() ? 1 : 0;
      }
    }
    STRATA_ASSERT_OK_AND_ASSIGN(auto got, Decode(buf));
    ASSERT_EQ(got, samples) << "iter " << iter;
  }
  // Coverage of the cases above (about 31k, 7k, 4.6k+ each, 1.3k, 2.5k, 96 with seed 61).
  EXPECT_GT(with_spare_capacity, 20000);
  EXPECT_GT(without, 4000);
  for (int n : at_offset) EXPECT_GT(n, 3000);
  EXPECT_GT(spare_zero_bytes, 500);
  EXPECT_GT(resumed, 1500);
  EXPECT_GT(resumed_at_spare_byte, 30);
}

// ---------------------------------------------------------------------------------------
// Exact codes at the bucket boundaries.

struct DodCase {
  int64_t dod;
  uint64_t prefix;
  int prefix_len;
  int width;
};

TEST(XorAppenderTest, DodBucketBoundariesUseUpstreamWidths) {
  const DodCase cases[] = {
      {0, 0b0, 1, 0},           {1, 0b10, 2, 14},          {-1, 0b10, 2, 14},
      {8192, 0b10, 2, 14},      {-8191, 0b10, 2, 14},      {8193, 0b110, 3, 17},
      {-8192, 0b110, 3, 17},    {65536, 0b110, 3, 17},     {-65535, 0b110, 3, 17},
      {65537, 0b1110, 4, 20},   {-65536, 0b1110, 4, 20},   {524288, 0b1110, 4, 20},
      {-524287, 0b1110, 4, 20}, {524289, 0b1111, 4, 64},   {-524288, 0b1111, 4, 64},
      {std::numeric_limits<int64_t>::min(), 0b1111, 4, 64},
  };
  for (const DodCase& c : cases) {
    // t0 = 0 (varint 1 byte) + 8 value bytes; t1 = 1000 (uvarint 2 bytes) + `0` value bit.
    const int64_t t2 = static_cast<int64_t>(uint64_t{2000} + static_cast<uint64_t>(c.dod));
    const std::vector<model::Sample> samples = {{0, 1}, {1000, 1}, {t2, 1}};
    const std::string chunk = Encode(samples, k3x);
    const size_t pos = 11 * 8 + 1;
    EXPECT_EQ(StreamBits(chunk, pos, c.prefix_len), c.prefix) << "dod " << c.dod;
    if (c.width > 0) {
      const uint64_t mask = c.width == 64 ? ~uint64_t{0} : (uint64_t{1} << c.width) - 1;
      EXPECT_EQ(StreamBits(chunk, pos + c.prefix_len, c.width),
                static_cast<uint64_t>(c.dod) & mask)
          << "dod " << c.dod;
    }
    // Then the value bit `0`, then padding: the chunk ends where the codes say.
    EXPECT_EQ(chunk.size(), 2 + (pos + c.prefix_len + c.width + 1 + 7) / 8) << "dod " << c.dod;
    STRATA_ASSERT_OK_AND_ASSIGN(auto got, Decode(chunk));
    EXPECT_EQ(got, samples) << "dod " << c.dod;
  }
}

TEST(XorAppenderTest, SixtyFourSignificantBitsAreWrittenAsZero) {
  // v0 = 0, v1 with bit 63 and bit 0 set: `11`, L = 0 (5 bits), S = 64 stored as 000000.
  const std::vector<model::Sample> samples = {
      {0, 0}, {1, std::bit_cast<double>(uint64_t{0x8000000000000001})}};
  const std::string chunk = Encode(samples, k3x);
  const size_t pos = 9 * 8 + 8;  // t0 varint + v0, t1 uvarint (1 byte)
  EXPECT_EQ(StreamBits(chunk, pos, 2), 0b11u);
  EXPECT_EQ(StreamBits(chunk, pos + 2, 5), 0u);
  EXPECT_EQ(StreamBits(chunk, pos + 7, 6), 0u);
  EXPECT_EQ(StreamBits(chunk, pos + 13, 64), 0x8000000000000001u);
  STRATA_ASSERT_OK_AND_ASSIGN(auto got, Decode(chunk));
  EXPECT_EQ(got, samples);
}

TEST(XorAppenderTest, LeadingZerosClampTo31BeforeWindowCheck) {
  // x = 0xf00000 has clz 40, written as L = 31 with S = 64 - 31 - 20 = 13.
  const std::vector<model::Sample> samples = {
      {0, 0}, {1, std::bit_cast<double>(uint64_t{0xf00000})}};
  const std::string chunk = Encode(samples, k3x);
  const size_t pos = 9 * 8 + 8;
  EXPECT_EQ(StreamBits(chunk, pos, 2), 0b11u);
  EXPECT_EQ(StreamBits(chunk, pos + 2, 5), 31u);
  EXPECT_EQ(StreamBits(chunk, pos + 7, 6), 13u);
  EXPECT_EQ(StreamBits(chunk, pos + 13, 13), 0xf00000u >> 20);
}

// In 2.42 a payload of 8k bits that starts byte-aligned leaves the extra zero byte.
TEST(XorAppenderTest, AlignedWholeBytePayloadKeepsExtraZeroByteIn242) {
  // Stream: t0 (1 byte) + v0 (8) + uvarint(t1 - t0) (1) = 80 bits. Sample 1: x has L = 8,
  // T = 48, so `11` L S + 8 payload bits = 21 bits -> 101.
  std::vector<model::Sample> samples = {{0, 0},
                                        {1, std::bit_cast<double>(uint64_t{0x00ff000000000000})}};
  // Sample 2: dod `0` (1 bit), then `10` + 8 bits reusing the window: 101 + 1 + 2 = 104,
  // byte-aligned, and the 8-bit payload is one aligned writeByte, ending at 112.
  samples.push_back({2, std::bit_cast<double>(uint64_t{0x0081000000000000})});
  const std::string b242 = Encode(samples, k242);
  const std::string b3 = Encode(samples, k3x);
  EXPECT_EQ(b3.size(), 2u + 112 / 8);
  EXPECT_EQ(b242.size(), b3.size() + 1);
  EXPECT_EQ(b242.substr(0, b3.size()), b3);
  EXPECT_EQ(b242.back(), '\0');
}

// ---------------------------------------------------------------------------------------
// Resume.

bool HasWindowCode(const std::vector<model::Sample>& s, size_t n) {
  // A `11` code is written for the first non-zero XOR of a fresh appender.
  for (size_t i = 1; i < n; ++i) {
    if (std::bit_cast<uint64_t>(s[i].v) != std::bit_cast<uint64_t>(s[i - 1].v)) return true;
  }
  return false;
}

TEST(XorAppenderTest, ResumeContinuesLikeAppendingInOneGo) {
  int compared = 0;
  for (const auto& samples : PropertyCorpus(31)) {
    for (XorOptions opts : {k242, k3x}) {
      const std::string all = Encode(samples, opts);
      for (size_t split : {size_t{0}, size_t{1}, size_t{2}, samples.size() / 2,
                           samples.size() - 1, samples.size()}) {
        if (split > samples.size()) continue;
        std::string buf;
        {
          XorAppender first(&buf, opts);
          for (size_t i = 0; i < split; ++i) first.Append(samples[i].t, samples[i].v);
        }
        STRATA_ASSERT_OK_AND_ASSIGN(XorAppender app, XorAppender::Resume(&buf, opts));
        EXPECT_EQ(app.num_samples(), static_cast<int>(split));
        for (size_t i = split; i < samples.size(); ++i) app.Append(samples[i].t, samples[i].v);
        // Upstream's decoder starts with window (0, 0): identical bytes are expected only
        // when the first part already set a window (or was empty).
        if (split == 0 || HasWindowCode(samples, split)) {
          ASSERT_EQ(Hex(buf), Hex(all)) << "split " << split;
          ++compared;
        }
        STRATA_ASSERT_OK_AND_ASSIGN(auto got, Decode(buf));
        ASSERT_EQ(got, samples) << "split " << split;
      }
    }
  }
  EXPECT_GT(compared, 500);
}

TEST(XorAppenderTest, ResumeWithoutWindowWritesTenPlus64Bits) {
  // One sample, resume: the decoder's window is (0, 0), so the next change is `10` + 64
  // bits, where a fresh appender would write `11` + L + S + payload.
  for (XorOptions opts : {k242, k3x}) {
    std::string buf;
    XorAppender(&buf, opts).Append(0, 1.0);
    STRATA_ASSERT_OK_AND_ASSIGN(XorAppender app, XorAppender::Resume(&buf, opts));
    app.Append(15000, 2.0);
    const size_t pos = 9 * 8 + 16;  // t0 + v0 (9 bytes), uvarint(15000) (2 bytes)
    EXPECT_EQ(StreamBits(buf, pos, 2), 0b10u);
    EXPECT_EQ(StreamBits(buf, pos + 2, 64), std::bit_cast<uint64_t>(1.0) ^
                                                std::bit_cast<uint64_t>(2.0));
    EXPECT_EQ(buf.size(), 2 + (pos + 66 + 7) / 8);
    STRATA_ASSERT_OK_AND_ASSIGN(auto got, Decode(buf));
    EXPECT_EQ(got, (std::vector<model::Sample>{{0, 1.0}, {15000, 2.0}}));
  }
}

TEST(XorAppenderTest, ResumeAcrossByteModesStaysDecodable) {
  for (const auto& samples : PropertyCorpus(41)) {
    for (bool first_242 : {true, false}) {
      std::string buf;
      const size_t split = samples.size() / 2;
      {
        XorAppender a(&buf, first_242 ? k242 : k3x);
        for (size_t i = 0; i < split; ++i) a.Append(samples[i].t, samples[i].v);
      }
      STRATA_ASSERT_OK_AND_ASSIGN(XorAppender app,
                                  XorAppender::Resume(&buf, first_242 ? k3x : k242));
      for (size_t i = split; i < samples.size(); ++i) app.Append(samples[i].t, samples[i].v);
      STRATA_ASSERT_OK_AND_ASSIGN(auto got, Decode(buf));
      ASSERT_EQ(got, samples);
    }
  }
}

TEST(XorAppenderTest, ResumeRejectsCorruptChunks) {
  std::string buf = Encode({{0, 1}, {15000, 2}, {30000, 3}}, k3x);
  std::string truncated = buf.substr(0, buf.size() - 2);
  EXPECT_THAT(XorAppender::Resume(&truncated).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("sample 2 of 3")));
  std::string dirty = buf;
  dirty.back() = static_cast<char>(dirty.back() | 1);  // a padding bit (stream ends unaligned)
  EXPECT_THAT(XorAppender::Resume(&dirty).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("non-zero padding")));
  std::string trailing = buf + std::string(2, '\0');
  EXPECT_THAT(XorAppender::Resume(&trailing).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unexpected bytes")));
  std::string tiny = "\x01";
  EXPECT_THAT(XorAppender::Resume(&tiny).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("2-byte sample count")));
}

// ---------------------------------------------------------------------------------------
// Corrupt input.

TEST(XorIteratorTest, EveryTruncationStopsWithDataLoss) {
  int checked = 0;
  for (const auto& samples : PropertyCorpus(51)) {
    if (samples.size() > 130) continue;  // keep it quadratic-cheap
    const std::string b3 = Encode(samples, k3x);
    const std::string b242 = Encode(samples, k242);
    for (size_t len = 0; len < b242.size(); ++len) {
      const std::string_view cut(b242.data(), len);
      XorIterator it(cut);
      size_t n = 0;
      while (it.Next()) {
        ASSERT_EQ(it.At(), samples[n]);
        ++n;
      }
      if (len >= b3.size()) {
        // Only the 2.42 extra zero byte is gone: still complete.
        STRATA_EXPECT_OK(it.status());
        EXPECT_EQ(n, samples.size());
      } else {
        EXPECT_THAT(it.status(), StatusIs(absl::StatusCode::kDataLoss,
                                          AllOf(HasSubstr("xor chunk"), HasSubstr("bytes"))))
            << "len " << len << " of " << b3.size();
        EXPECT_LT(n, samples.size());
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

// Decodes `chunk` with XorIterator and with the bit-at-a-time model of upstream's reader:
// the same samples, and a failure at the same sample and byte offset (or none).
void ExpectDecodesLikeReference(std::string_view chunk, const std::string& what) {
  const auto ref = RefXorDecode(chunk);
  // An allocation of exactly the chunk's size, so that ASan reports any read past its end
  // (a std::string's spare capacity or a longer string's prefix would hide it).
  const auto exact = std::make_unique<char[]>(chunk.size());
  std::copy(chunk.begin(), chunk.end(), exact.get());
  XorIterator it(std::string_view(exact.get(), chunk.size()));
  std::vector<model::Sample> got;
  while (it.Next()) got.push_back(it.At());
  ASSERT_EQ(got, ref.samples) << what << ": " << Hex(chunk);
  if (ref.failed_sample < 0) {
    ASSERT_TRUE(it.status().ok()) << what << ": " << it.status() << ": " << Hex(chunk);
  } else if (chunk.size() < 2) {
    ASSERT_EQ(it.status().code(), absl::StatusCode::kDataLoss) << what;
  } else {
    ASSERT_THAT(it.status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr(absl::StrFormat("sample %d of %d at byte offset %d:",
                                                   ref.failed_sample, ref.total,
                                                   2 + ref.failed_bit / 8))))
        << what << ": " << Hex(chunk);
  }
}

// Corrupt variants of valid chunks of every shape (flipped bits anywhere, a larger sample
// count, truncation, trailing garbage) and random bytes, long enough to reach the decoder's
// unchecked fast path: it must stop exactly where upstream's reader stops.
void CheckCorruptChunksDecodeLikeUpstreamReader() {
  std::mt19937_64 rng(83);
  int failures = 0;
  int cases = 0;
  for (const auto& samples : PropertyCorpus(81)) {
    for (XorOptions opts : {k242, k3x}) {
      const std::string chunk = Encode(samples, opts);
      ExpectDecodesLikeReference(chunk, "valid");
      for (int m = 0; m < 40; ++m) {
        std::string b = chunk;
        switch (m % 4) {
          case 0:  // 1-3 flipped bits in the stream
            for (int k = 0; k <= static_cast<int>(rng() % 3); ++k) {
              const size_t bit = 16 + rng() % ((b.size() - 2) * 8);
              b[bit / 8] = static_cast<char>(b[bit / 8] ^ (1 << (bit % 8)));
            }
            break;
          case 1: {  // more samples declared than written
            const int n = (static_cast<uint8_t>(b[0]) << 8 | static_cast<uint8_t>(b[1])) +
                          1 + static_cast<int>(rng() % 40);
            b[0] = static_cast<char>(n >> 8);
            b[1] = static_cast<char>(n & 0xff);
            break;
          }
          case 2:  // truncated, maybe with a flipped bit
            b.resize(rng() % (b.size() + 1));
            if (b.size() > 2 && rng() % 2 == 0) b[2 + rng() % (b.size() - 2)] ^= 0x10;
            break;
          default:  // random bytes after a valid prefix, count raised
            b.resize(2 + rng() % (b.size() - 1));
            for (int k = static_cast<int>(rng() % 64); k > 0; --k) {
              b.push_back(static_cast<char>(rng()));
            }
            b[0] = static_cast<char>(rng() % 2);
            break;
        }
        const auto ref = RefXorDecode(b);
        failures += ref.failed_sample >= 0;
        ++cases;
        ExpectDecodesLikeReference(b, absl::StrFormat("mutation %d", m));
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
  for (int i = 0; i < 3000; ++i) {
    std::string b(rng() % 400, '\0');
    for (char& c : b) c = static_cast<char>(rng() & rng());  // sparse ones: long decodes
    if (b.size() >= 2) b[0] = static_cast<char>(rng() % 2);
    ExpectDecodesLikeReference(b, "random");
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(failures, cases / 4);
  EXPECT_LT(failures, cases);
}

TEST(XorIteratorTest, CorruptChunksDecodeLikeUpstreamReader) {
  CheckCorruptChunksDecodeLikeUpstreamReader();
}

TEST(XorIteratorTest, CorruptChunksDecodeLikeUpstreamReaderBaselineBuild) {
  OnBaselineBuild(CheckCorruptChunksDecodeLikeUpstreamReader);
}

// Samples 0 and 1 (whole-byte varints, then v0 and the first value code) are decoded
// without bounds checks when the stream has enough bytes and both varints have at most 8
// bytes, and by the checked path otherwise: both must agree with upstream's reader for
// varints of every length (valid and overlong), every value code, and streams just below,
// at and above the unchecked path's size, whole and truncated.
void CheckHeadsDecodeLikeUpstreamReader() {
  std::mt19937_64 rng(97);
  auto varint = [&](int len) {
    std::string b;
    if (len > 10) {  // overlong: 11 continuation bytes
      return std::string(11, '\x80');
    }
    if (len == 10 && rng() % 3 == 0) {  // 10th byte > 1: invalid
      b.assign(9, '\xff');
      b.push_back(static_cast<char>(2 + rng() % 126));
      return b;
    }
    uint64_t u = rng();
    if (len < 10) u &= (uint64_t{1} << (7 * len)) - 1;
    if (len > 1) u |= uint64_t{1} << (7 * (len - 1));  // exactly len bytes
    base::PutUvarint(&b, u);
    return b;
  };
  int checked = 0;
  for (int len0 = 1; len0 <= 11; ++len0) {
    for (int len1 = 1; len1 <= 11; ++len1) {
      for (int code = 0; code < 5; ++code) {
        for (int extra : {0, 1, 8, 20, 30, 40, 60}) {
          std::string b;
          const int count = 1 + static_cast<int>(rng() % 4);
          b.push_back(static_cast<char>(count >> 8));
          b.push_back(static_cast<char>(count & 0xff));
          b += varint(len0);
          for (int k = 0; k < 8; ++k) b.push_back(static_cast<char>(rng()));
          b += varint(len1);
          uint8_t first = 0;
          switch (code) {
            case 0: first = static_cast<uint8_t>(rng() & 0x7f); break;  // `0`
            case 1: first = static_cast<uint8_t>(0x80 | (rng() & 0x3f)); break;  // `10`
            case 2: first = 0xc0 | 0x08; break;  // `11`, L = 2, S starts with 0
            case 3: first = 0xff; break;  // `11`, L = 31, S >= 32: often invalid
            default: first = static_cast<uint8_t>(rng()); break;
          }
          b.push_back(static_cast<char>(first));
          for (int k = 0; k < extra; ++k) b.push_back(static_cast<char>(rng() & rng()));
          ExpectDecodesLikeReference(b, absl::StrFormat("head %d %d %d %d", len0, len1, code,
                                                        extra));
          for (size_t cut : {size_t{48}, size_t{49}, size_t{50}, b.size() / 2}) {
            if (cut < b.size()) {
              ExpectDecodesLikeReference(std::string_view(b).substr(0, cut), "truncated head");
            }
          }
          if (::testing::Test::HasFatalFailure()) return;
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 11 * 11 * 5 * 7);
}

TEST(XorIteratorTest, HeadsDecodeLikeUpstreamReader) { CheckHeadsDecodeLikeUpstreamReader(); }

TEST(XorIteratorTest, HeadsDecodeLikeUpstreamReaderBaselineBuild) {
  OnBaselineBuild(CheckHeadsDecodeLikeUpstreamReader);
}

// Constant runs (`0` or `10` + 14 bits, then `0`) are decoded three samples per round from
// one word, and a round that holds any other code is undone. A break of every kind at every
// index (so at every offset within a round, before and after the end of the unchecked part
// of the stream and of a batch), whole and truncated, must decode as upstream's reader does.
void CheckConstantRunsDecodeLikeUpstreamReader() {
  std::mt19937_64 rng(101);
  int checked = 0;
  for (int n : {40, 120, 150}) {
    for (int jitter = 0; jitter < 3; ++jitter) {
      // Timestamps: all `0` codes, all `10` codes, or a mix (scrape jitter).
      std::vector<int64_t> ts{1700000000000};
      for (int i = 1; i < n; ++i) {
        int64_t d = 15000;
        if (jitter == 1 || (jitter == 2 && rng() % 2 == 0)) {
          d += static_cast<int64_t>(rng() % 61) - 30;
          if (i >= 2 && d == ts[i - 1] - ts[i - 2]) ++d;  // a dod that is never 0
        }
        ts.push_back(ts.back() + d);
      }
      for (int brk = 0; brk < 6; ++brk) {
        for (int j = 2; j < n; ++j) {
          std::vector<model::Sample> samples;
          for (int i = 0; i < n; ++i) samples.push_back({ts[i], 42.0});
          switch (brk) {
            case 0:  // the value changes at j and stays: `10`/`11` + payload
              for (int i = j; i < n; ++i) samples[i].v = 43.5;
              break;
            case 1:  // a one-off value at j
              samples[j].v = -1.25;
              break;
            case 2:  // a dod wider than 14 bits at j: `110` + 17 bits
              for (int i = j; i < n; ++i) samples[i].t += 20000;
              break;
            case 3:  // a gap that needs `1111` + 64 bits
              for (int i = j; i < n; ++i) samples[i].t += int64_t{1} << 40;
              break;
            case 4:  // dod +8192, the one 14-bit value read above the sign bit, then back
              for (int i = j; i < n; ++i) samples[i].t += 8192;
              break;
            default:  // dod -8191 then back: the lowest 14-bit value
              for (int i = j; i < n; ++i) samples[i].t -= 8191;
              break;
          }
          for (XorOptions opts : {k3x, k242}) {
            const std::string chunk = Encode(samples, opts);
            ASSERT_EQ(RefXorDecode(chunk).samples, samples) << "n " << n << " brk " << brk;
            ExpectDecodesLikeReference(chunk, absl::StrFormat("n %d jitter %d break %d at %d",
                                                              n, jitter, brk, j));
            if (::testing::Test::HasFatalFailure()) return;
            ++checked;
          }
          if (j % 7 == 0) {  // and cut short: runs that reach past the end
            const std::string chunk = Encode(samples, k3x);
            const size_t len = 2 + rng() % (chunk.size() - 2);
            ExpectDecodesLikeReference(std::string_view(chunk).substr(0, len), "truncated");
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 2 * 6 * 3 * (38 + 118 + 148));
}

TEST(XorIteratorTest, ConstantRunsDecodeLikeUpstreamReader) {
  CheckConstantRunsDecodeLikeUpstreamReader();
}

TEST(XorIteratorTest, ConstantRunsDecodeLikeUpstreamReaderBaselineBuild) {
  OnBaselineBuild(CheckConstantRunsDecodeLikeUpstreamReader);
}

TEST(XorIteratorTest, TruncationErrorNamesSampleAndOffset) {
  const std::string chunk = Encode({{0, 1}, {15000, 1}, {30000, 0}, {45000, 1}}, k3x);
  XorIterator it(std::string_view(chunk).substr(0, chunk.size() - 1));
  int n = 0;
  while (it.Next()) ++n;
  EXPECT_EQ(n, 3);
  // Sample 3 starts at stream bit 113 (72 + 17 + 1 + 23): byte offset 2 + 14 = 16.
  EXPECT_THAT(it.status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("sample 3 of 4 at byte offset 16: unexpected end of data "
                                 "(chunk is 17 bytes)")));
}

TEST(XorIteratorTest, RejectsImpossibleValueWindow) {
  // Sample 1 (its uvarint at byte 11) with `11`, L = 31, S = 63 (> 64 - 31).
  std::string chunk = Bytes({0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
  // bits: 11 11111 111111 then payload
  const std::string tail = Bytes({0xff, 0xf8, 0, 0, 0, 0, 0, 0, 0, 0});
  chunk += tail;
  XorIterator it(chunk);
  EXPECT_TRUE(it.Next());
  EXPECT_FALSE(it.Next());
  EXPECT_THAT(it.status(), StatusIs(absl::StatusCode::kDataLoss,
                                    HasSubstr("sample 1 of 2 at byte offset 11: leading zeros")));
}

TEST(XorIteratorTest, RejectsOverlongVarint) {
  std::string chunk = Bytes({0x00, 0x01});
  chunk += std::string(11, '\xff');
  XorIterator it(chunk);
  EXPECT_FALSE(it.Next());
  EXPECT_THAT(it.status(), StatusIs(absl::StatusCode::kDataLoss,
                                    HasSubstr("sample 0 of 1 at byte offset 2: invalid")));
}

TEST(XorIteratorTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(61);
  int errors = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string b(rng() % 64, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    if (b.size() >= 2 && rng() % 2 == 0) b[0] = 0;  // plausible counts too
    XorIterator it(b);
    int n = 0;
    while (it.Next()) ++n;
    EXPECT_LE(n, it.num_samples());
    if (!it.status().ok()) {
      EXPECT_EQ(it.status().code(), absl::StatusCode::kDataLoss);
      ++errors;
    }
    (void)it.Seek(0);
  }
  EXPECT_GT(errors, 10000);
}

TEST(XorIteratorTest, NextAfterEndOrErrorStaysFalse) {
  const std::string chunk = Encode({{0, 1}}, k3x);
  XorIterator it(chunk);
  EXPECT_TRUE(it.Next());
  EXPECT_FALSE(it.Next());
  EXPECT_FALSE(it.Next());
  EXPECT_FALSE(it.Seek(-100));
  STRATA_EXPECT_OK(it.status());
}

// ---------------------------------------------------------------------------------------
// Seek.

TEST(XorIteratorTest, SeekFindsFirstSampleAtOrAfter) {
  const std::vector<model::Sample> samples = {{10, 1}, {20, 2}, {30, 3}, {40, 4}};
  const std::string chunk = Encode(samples, k3x);
  {
    XorIterator it(chunk);
    ASSERT_TRUE(it.Seek(-5));  // before the first: the first
    EXPECT_EQ(it.At(), samples[0]);
    ASSERT_TRUE(it.Seek(10));  // already there: stays
    EXPECT_EQ(it.At(), samples[0]);
    ASSERT_TRUE(it.Seek(25));  // between: the next one
    EXPECT_EQ(it.At(), samples[2]);
    ASSERT_TRUE(it.Seek(0));  // never moves back
    EXPECT_EQ(it.At(), samples[2]);
    EXPECT_EQ(it.AtT(), 30);
    ASSERT_TRUE(it.Next());
    EXPECT_EQ(it.At(), samples[3]);
    EXPECT_FALSE(it.Seek(41));  // past the end
    EXPECT_FALSE(it.Seek(0));   // exhausted
    STRATA_EXPECT_OK(it.status());
  }
  {
    XorIterator it(chunk);
    ASSERT_TRUE(it.Seek(40));
    EXPECT_EQ(it.At(), samples[3]);
    EXPECT_FALSE(it.Next());
  }
  {
    XorIterator it(chunk);
    EXPECT_FALSE(it.Seek(1000));
    STRATA_EXPECT_OK(it.status());
  }
  {
    std::string empty;
    XorAppender app(&empty);
    XorIterator it(empty);
    EXPECT_FALSE(it.Seek(0));
    STRATA_EXPECT_OK(it.status());
  }
}

TEST(XorIteratorTest, SeekReportsCorruption) {
  const std::string chunk = Encode(GenerateSeries(Shape::kGauge, 7, 50), k3x);
  XorIterator it(std::string_view(chunk).substr(0, chunk.size() / 2));
  EXPECT_FALSE(it.Seek(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(it.status().code(), absl::StatusCode::kDataLoss);
}

TEST(XorIteratorTest, ResetReusesIterator) {
  const auto a = GenerateSeries(Shape::kCounter, 1, 120);
  const auto b = GenerateSeries(Shape::kGauge, 2, 77);
  const std::string ca = Encode(a, k3x);
  const std::string cb = Encode(b, k242);
  XorIterator it;
  EXPECT_FALSE(it.Next());
  it.Reset("\x01");
  EXPECT_FALSE(it.Next());
  EXPECT_EQ(it.status().code(), absl::StatusCode::kDataLoss);
  for (const auto& [chunk, want] : {std::pair{ca, a}, std::pair{cb, b}}) {
    it.Reset(chunk);
    std::vector<model::Sample> got;
    while (it.Next()) got.push_back(it.At());
    STRATA_EXPECT_OK(it.status());
    EXPECT_EQ(got, want);
  }
}

}  // namespace
}  // namespace strata::chunkenc
