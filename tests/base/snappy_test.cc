#include "base/snappy.h"

#include <gtest/gtest.h>

#include <string>

#include "testing/status_matchers.h"

namespace strata::base {
namespace {

using ::testing::HasSubstr;

struct Vector {
  const char* name;
  std::string compressed;
  std::string plain;
};

// Hand-assembled from the format description (see snappy.h).
std::vector<Vector> Vectors() {
  return {
      {"literal", std::string("\x05\x10hello", 7), "hello"},
      {"empty", std::string("\x00", 1), ""},
      // "a" then a 1-byte-offset copy of length 9 at offset 1: a run that overlaps itself.
      {"overlapping copy1", std::string("\x0a\x00" "a\x15\x01", 5), std::string(10, 'a')},
      {"copy2", std::string("\x08\x0c" "abcd\x0e\x04\x00", 9), "abcdabcd"},
      {"copy4", std::string("\x08\x0c" "abcd\x0f\x04\x00\x00\x00", 11), "abcdabcd"},
      // Literal of 100 bytes: tag 60 << 2, then length-1 in one byte.
      {"long literal", std::string("\x64\xf0\x63", 3) + std::string(100, 'x'),
       std::string(100, 'x')},
      // Literal of 300 bytes: tag 61 << 2, then length-1 in two little-endian bytes.
      {"two-byte literal length", std::string("\xac\x02\xf4\x2b\x01", 5) + std::string(300, 'y'),
       std::string(300, 'y')},
  };
}

TEST(SnappyTest, DecodesHandMadeVectors) {
  for (const Vector& v : Vectors()) {
    std::string out = "stale contents";
    STRATA_ASSERT_OK(SnappyUncompress(v.compressed, 1 << 20, &out));
    EXPECT_EQ(out, v.plain) << v.name;
  }
}

TEST(SnappyTest, EveryTruncationIsAnError) {
  for (const Vector& v : Vectors()) {
    for (size_t n = 0; n < v.compressed.size(); ++n) {
      if (v.plain.empty() && n > 0) continue;
      std::string out;
      EXPECT_FALSE(SnappyUncompress(v.compressed.substr(0, n), 1 << 20, &out).ok())
          << v.name << " truncated to " << n;
    }
  }
}

TEST(SnappyTest, RejectsMalformedInputNamingTheOffset) {
  std::string out;
  EXPECT_THAT(SnappyUncompress(std::string("\x04\x01\x00", 3), 100, &out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("copy offset out of range at offset 1")));
  EXPECT_THAT(SnappyUncompress(std::string("\x02\x10hello", 7), 100, &out),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("literal overruns the declared length")));
  EXPECT_THAT(SnappyUncompress(std::string("\x80\x80\x80\x80\x10", 5), 100, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exceeds the limit")));
  EXPECT_THAT(SnappyUncompress(std::string("\xff", 1), 100, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad length preamble")));
  EXPECT_THAT(SnappyUncompress(std::string("\x06\x10hello", 7), 100, &out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("produced 5 of 6 bytes")));
}

}  // namespace
}  // namespace strata::base
