// Prometheus durations (prometheus/common model.ParseDuration and Duration.String).
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "strata/base/status.h"
#include "strata/promql/parser/parser.h"

namespace strata::promql::parser {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kWeek = 7 * kDay;
constexpr int64_t kYear = 365 * kDay;

absl::Status Invalid(std::string_view s) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a valid duration string: \"", base::ToAbsl(s), "\""));
}

}  // namespace

absl::StatusOr<int64_t> ParseDuration(std::string_view s) {
  if (s == "0") return 0;  // allowed without a unit
  if (s.empty()) return Invalid(s);
  struct Unit {
    std::string_view name;
    int64_t ms;
  };
  // Largest first; each unit at most once and in this order, as the upstream regexp
  // ^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$ demands.
  static constexpr Unit kUnits[] = {{"y", kYear}, {"w", kWeek}, {"d", kDay}, {"h", kHour},
                                    {"m", kMinute}, {"s", kSecond}, {"ms", 1}};
  size_t i = 0;
  size_t next_unit = 0;
  int64_t total = 0;
  while (i < s.size()) {
    size_t j = i;
    uint64_t n = 0;
    bool overflow = false;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      if (n > (std::numeric_limits<uint64_t>::max() - 9) / 10) overflow = true;
      n = n * 10 + static_cast<uint64_t>(s[j] - '0');
      ++j;
    }
    if (j == i) return Invalid(s);
    size_t k = j;
    while (k < s.size() && !(s[k] >= '0' && s[k] <= '9')) ++k;
    const std::string_view unit = s.substr(j, k - j);
    size_t u = next_unit;
    while (u < std::size(kUnits) && kUnits[u].name != unit) ++u;
    if (u == std::size(kUnits)) return Invalid(s);
    next_unit = u + 1;
    const int64_t max = std::numeric_limits<int64_t>::max();
    if (overflow || n > static_cast<uint64_t>(max / kUnits[u].ms) ||
        static_cast<int64_t>(n) * kUnits[u].ms > max - total) {
      return absl::InvalidArgumentError("duration out of range");
    }
    total += static_cast<int64_t>(n) * kUnits[u].ms;
    i = k;
  }
  return total;
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  uint64_t v;
  if (ms < 0) {
    out = "-";
    v = static_cast<uint64_t>(-(ms + 1)) + 1;
  } else {
    v = static_cast<uint64_t>(ms);
  }
  // Years and weeks only when they divide exactly, as model.Duration.String does.
  auto f = [&](const char* unit, uint64_t mult, bool exact) {
    if (exact && v % mult != 0) return;
    const uint64_t n = v / mult;
    if (n > 0) {
      absl::StrAppend(&out, n, unit);
      v -= n * mult;
    }
  };
  f("y", kYear, true);
  f("w", kWeek, true);
  f("d", kDay, false);
  f("h", kHour, false);
  f("m", kMinute, false);
  f("s", kSecond, false);
  f("ms", 1, false);
  return out;
}

}  // namespace strata::promql::parser
