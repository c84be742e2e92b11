// Fuzz target for the PromQL parser: arbitrary bytes must never crash, hang or exhaust
// memory, and whatever parses must print to text that parses back to an equal tree which
// prints identically (the printer's fixed point). Also feeds the series-description parser.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "strata/promql/parser/parser.h"
#include "strata/promql/parser/printer.h"

namespace {

[[noreturn]] void Die(const char* what, std::string_view in, const std::string& a,
                      const std::string& b) {
  std::fprintf(stderr, "%s\ninput:   %.*s\nfirst:   %s\nsecond:  %s\n", what,
               static_cast<int>(in.size()), in.data(), a.c_str(), b.c_str());
  std::abort();
}

void CheckRoundTrip(std::string_view in, const strata::promql::parser::ParseOptions& opts) {
  using namespace strata::promql::parser;
  auto parsed = ParseExpr(in, opts);
  if (!parsed.ok()) return;
  const std::string printed = Print(**parsed);
  auto again = ParseExpr(printed, opts);
  if (!again.ok()) Die("printed form does not parse", in, printed, again.status().ToString());
  if (!Equal(**parsed, **again)) Die("round trip changed the tree", in, printed, Print(**again));
  const std::string printed2 = Print(**again);
  if (printed2 != printed) Die("printing is not a fixed point", in, printed, printed2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // longer inputs add time, not coverage
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  strata::promql::parser::ParseOptions opts;
  CheckRoundTrip(in, opts);
  opts.compat_2x = true;
  CheckRoundTrip(in, opts);
  (void)strata::promql::parser::ParseSeriesDesc(in, /*max_values=*/100000);
  return 0;
}
