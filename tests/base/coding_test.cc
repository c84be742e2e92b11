#include "base/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace strata::base {
namespace {

TEST(CodingTest, UvarintMatchesGoEncoding) {
  std::string b;
  PutUvarint(&b, 300);  // Go: binary.PutUvarint(300) = ac 02
  EXPECT_EQ(b, std::string("\xac\x02", 2));
  b.clear();
  PutVarint(&b, -1);  // zig-zag 1
  EXPECT_EQ(b, std::string("\x01", 1));
  b.clear();
  PutVarint(&b, 45000);  // doc example: varint mint 0 ... and uvarint 45000 = c8 df 02
  b.clear();
  PutUvarint(&b, 45000);
  EXPECT_EQ(b, std::string("\xc8\xdf\x02", 3));
}

TEST(CodingTest, RoundTripsExtremes) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    std::string b;
    PutVarint(&b, v);
    PutUvarint(&b, static_cast<uint64_t>(v));
    PutBE64(&b, static_cast<uint64_t>(v));
    Decoder d(b);
    EXPECT_EQ(d.Varint(), v);
    EXPECT_EQ(d.Uvarint(), static_cast<uint64_t>(v));
    EXPECT_EQ(d.BE64(), static_cast<uint64_t>(v));
    EXPECT_TRUE(d.ok());
    EXPECT_EQ(d.remaining(), 0u);
  }
}

TEST(CodingTest, DecoderLatchesErrorOnTruncation) {
  std::string b;
  PutUvarint(&b, 1u << 20);
  b.pop_back();
  Decoder d(b);
  EXPECT_EQ(d.Uvarint(), 0u);
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(d.BE32(), 0u);  // later reads keep failing, never read past the end
  EXPECT_STREQ(d.err(), "unexpected end of data in varint");
}

TEST(CodingTest, DecoderRejectsOverlongVarint) {
  const std::string b(11, '\x80');
  Decoder d(b);
  d.Uvarint();
  EXPECT_STREQ(d.err(), "invalid varint");
}

TEST(CodingTest, DecoderStringBoundsChecked) {
  std::string b;
  PutUvarint(&b, 100);
  b += "short";
  Decoder d(b);
  EXPECT_TRUE(d.UvarintStr().empty());
  EXPECT_FALSE(d.ok());
}

}  // namespace
}  // namespace strata::base
