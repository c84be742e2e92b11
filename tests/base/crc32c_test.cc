#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace strata::base {
namespace {

TEST(Crc32cTest, MatchesCheckValue) { EXPECT_EQ(Crc32c("123456789"), 0xE3069283u); }

TEST(Crc32cTest, MatchesPrometheusChunkCrcFromFormatDoc) {
  // tsdb-format.md section 4: CRC32C over encoding byte + data of a promtool 2.42 chunk.
  const unsigned char chunk[] = {0x01, 0x00, 0x04, 0x00, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00,
                                 0x00, 0x00, 0x98, 0x75, 0x31, 0x15, 0xff, 0xaf, 0xfc};
  EXPECT_EQ(Crc32c(chunk, sizeof(chunk)), 0x655266f2u);
}

TEST(Crc32cTest, ExtendEqualsOneShotForEverySplit) {
  std::mt19937 rng(7);
  std::string data(1000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = Crc32c(data);
  for (size_t split = 0; split <= data.size(); split += 37) {
    const uint32_t a = Crc32cExtend(0, data.data(), split);
    EXPECT_EQ(Crc32cExtend(a, data.data() + split, data.size() - split), whole) << split;
  }
}

TEST(Crc32cTest, EmptyIsZero) { EXPECT_EQ(Crc32c("", 0), 0u); }

}  // namespace
}  // namespace strata::base
