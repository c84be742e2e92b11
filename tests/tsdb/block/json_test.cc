// Tests of strata::base's JSON (lib/base/json.h), which meta.json depends on. Expected texts
// are what Go's encoding/json produces (json.Marshal / json.MarshalIndent(v, "", "\t")).
#include "base/json.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/status_matchers.h"

namespace strata::base {
namespace {

using ::testing::HasSubstr;

TEST(JsonTest, WritesLikeGoMarshalIndent) {
  Json root = Json::Object();
  root.Set("ulid", Json::String("01M7ZTEGV55SBH2R85V54HY8AZ"));
  root.Set("minTime", Json::Int(0));
  Json stats = Json::Object();
  stats.Set("numSamples", Json::Uint(5));
  root.Set("stats", std::move(stats));
  root.Set("empty", Json::Object());
  root.Set("list", Json::Array({Json::String("a"), Json::Int(-3)}));
  root.Set("none", Json::Array());
  root.Set("flag", Json::Bool(false));
  root.Set("nil", Json());
  EXPECT_EQ(root.WriteIndented(),
            "{\n\t\"ulid\": \"01M7ZTEGV55SBH2R85V54HY8AZ\",\n\t\"minTime\": 0,\n"
            "\t\"stats\": {\n\t\t\"numSamples\": 5\n\t},\n\t\"empty\": {},\n"
            "\t\"list\": [\n\t\t\"a\",\n\t\t-3\n\t],\n\t\"none\": [],\n\t\"flag\": false,\n"
            "\t\"nil\": null\n}");
  EXPECT_EQ(root.Write(),
            "{\"ulid\":\"01M7ZTEGV55SBH2R85V54HY8AZ\",\"minTime\":0,\"stats\":{\"numSamples\":5},"
            "\"empty\":{},\"list\":[\"a\",-3],\"none\":[],\"flag\":false,\"nil\":null}");
}

TEST(JsonTest, FormatsFloatsAsGo) {
  EXPECT_EQ(FormatJsonFloat(1.5), "1.5");
  EXPECT_EQ(FormatJsonFloat(123456789.0), "123456789");
  EXPECT_EQ(FormatJsonFloat(1e20), "100000000000000000000");
  EXPECT_EQ(FormatJsonFloat(1e21), "1e+21");
  EXPECT_EQ(FormatJsonFloat(0.000001), "0.000001");
  EXPECT_EQ(FormatJsonFloat(0.0000001), "1e-7");
  EXPECT_EQ(FormatJsonFloat(1.25e-10), "1.25e-10");
  EXPECT_EQ(FormatJsonFloat(0.1), "0.1");
  EXPECT_EQ(FormatJsonFloat(-0.0), "-0");
  EXPECT_EQ(FormatJsonFloat(0), "0");
}

TEST(JsonTest, EscapesStringsAsGo) {
  std::string out;
  AppendJsonString(&out, "<a&b>\"\\\n\t\r\x01\x7f");
  EXPECT_EQ(out, "\"\\u003ca\\u0026b\\u003e\\\"\\\\\\n\\t\\r\\u0001\x7f\"");
  out.clear();
  AppendJsonString(&out, "\xe2\x80\xa8 \xff \xc3\xa9");
  EXPECT_EQ(out, "\"\\u2028 \\ufffd \xc3\xa9\"");
}

TEST(JsonTest, ParsesAndRoundTrips) {
  const std::string text =
      "{\n\t\"a\": [\n\t\t1,\n\t\t-2,\n\t\t18446744073709551615,\n\t\t1.5,\n\t\ttrue,\n"
      "\t\tnull\n\t],\n\t\"b\": {\n\t\t\"c\": \"x\\u00e9\\ud83d\\ude00\"\n\t}\n}";
  STRATA_ASSERT_OK_AND_ASSIGN(Json j, ParseJson(text));
  ASSERT_TRUE(j.is_object());
  const Json* a = j.Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items().size(), 6u);
  EXPECT_EQ(a->items()[0].int_value(), 1);
  EXPECT_EQ(a->items()[1].int_value(), -2);
  EXPECT_EQ(a->items()[2].type(), Json::Type::kUint);
  EXPECT_EQ(a->items()[2].uint_value(), 18446744073709551615ull);
  EXPECT_EQ(a->items()[3].double_value(), 1.5);
  EXPECT_TRUE(a->items()[4].bool_value());
  EXPECT_TRUE(a->items()[5].is_null());
  EXPECT_EQ(j.Find("b")->Find("c")->string_value(), "x\xc3\xa9\xf0\x9f\x98\x80");
  // Non-ASCII is written back raw, as Go does.
  EXPECT_EQ(j.WriteIndented(),
            "{\n\t\"a\": [\n\t\t1,\n\t\t-2,\n\t\t18446744073709551615,\n\t\t1.5,\n\t\ttrue,\n"
            "\t\tnull\n\t],\n\t\"b\": {\n\t\t\"c\": \"x\xc3\xa9\xf0\x9f\x98\x80\"\n\t}\n}");
}

TEST(JsonTest, ReportsErrorOffsets) {
  EXPECT_THAT(ParseJson("{\"a\": 1,}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset 8")));
  EXPECT_THAT(ParseJson("[1, 2").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset 5")));
  EXPECT_THAT(ParseJson("\"abc").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unterminated")));
  EXPECT_THAT(ParseJson("01").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset 1")));
  EXPECT_THAT(ParseJson("1e999").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  EXPECT_THAT(ParseJson("{} x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trailing data")));
  EXPECT_THAT(ParseJson("").status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset 0")));
  EXPECT_THAT(ParseJson(std::string(100000, '[')).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("too deep")));
}

}  // namespace
}  // namespace strata::base
