// strata::promql::parser: PromQL text -> type-checked AST (ast.h), the test-script series
// descriptions, and Prometheus durations.
//
// The grammar is Prometheus 3.x's (promql/parser/generated_parser.y), written as a
// recursive-descent parser with precedence climbing for binary operators:
//   or  <  and, unless  <  == != > < >= <=  <  + -  <  * / % atan2  <  ^ (right-assoc)
// Unary +/- binds like * (so -a^b is -(a^b)); offset, @, [range], [range:step], anchored
// and smoothed bind tighter than any operator.
//
// Errors are InvalidArgument with upstream's text, "<line>:<col>: parse error: <detail>",
// col counting bytes from 1, e.g. `1:5: parse error: unexpected <op:+>`.
//
// Thread-safety: all functions are reentrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/model/labels.h"
#include "strata/model/matcher.h"
#include "strata/promql/parser/ast.h"

namespace strata::promql::parser {

struct ParseOptions {
  // Prometheus 2.x language: the 2.42 function set (holt_winters, no 3.x functions), no
  // limitk/limit_ratio, no duration expressions, extended selectors or fill modifiers, no
  // quoted UTF-8 names, and regexes whose `.` does not match a newline.
  bool compat_2x = false;
  // Experimental functions (info, sort_by_label, mad_over_time, ...) and aggregations
  // (limitk, limit_ratio). Upstream default is off; the conformance files need it on.
  bool experimental_functions = true;
  // Arithmetic in `[...]` and after `offset`, step(), range(), min_of(), max_of().
  bool duration_expressions = true;
  // `anchored` and `smoothed` range-selector modifiers.
  bool extended_range_selectors = true;
  // fill(), fill_left(), fill_right() binary-operator modifiers.
  bool binop_fill_modifiers = true;
  // Resource bounds (not in upstream; they keep hostile input cheap). Exceeding one
  // returns InvalidArgument saying which.
  size_t max_input_bytes = 1 << 20;  // query length in bytes
  int max_depth = 200;               // nesting of sub-expressions
};

// Parses and type checks `input`. Returns InvalidArgument "L:C: parse error: ..." on a
// syntax or type error, or when a ParseOptions bound is exceeded.
absl::StatusOr<ExprPtr> ParseExpr(std::string_view input, const ParseOptions& opts = {});

// Parses a lone series selector (`up{job="a"}`, `{__name__=~"x.*"}`) into its matchers,
// as upstream's ParseMetricSelector (API match[] parameters, info() selectors). The metric
// name, if written outside the braces, becomes the last matcher. Unlike ParseExpr it does
// not require a non-empty matcher. Returns InvalidArgument "L:C: parse error: ..." for
// anything else, including modifiers such as offset.
absl::StatusOr<std::vector<model::Matcher>> ParseMetricSelector(std::string_view input,
                                                                const ParseOptions& opts = {});

// Parses a Prometheus duration (prometheus/common model.ParseDuration): "0", or integer +
// unit chained largest first, units y w d h m s ms ("1h30m", "10s53ms"). Returns
// milliseconds, or InvalidArgument `not a valid duration string: "..."` / on overflow.
absl::StatusOr<int64_t> ParseDuration(std::string_view s);

// Formats milliseconds as model.Duration.String(): "1h30m", "0s", "1y", "-5m".
std::string FormatDuration(int64_t ms);

// ---------------------------------------------------------------------------------------
// Series descriptions of the test-script language (`metric{a="b"} 1+2x3 _ stale`), see
// /work/shared/conformance/README.md "Value sequences".

// A native histogram written as `{{schema:0 sum:5 count:4 buckets:[1 2 1]}}`, as given in
// the text (absolute bucket counts, one span per side).
struct HistogramDesc {
  enum class CounterResetHint { kUnknown, kReset, kNotReset, kGauge };
  int32_t schema = 0;
  double sum = 0;
  double count = 0;
  double zero_count = 0;      // z_bucket
  double zero_threshold = 0;  // z_bucket_w
  std::vector<double> buckets;
  int32_t offset = 0;
  std::vector<double> negative_buckets;
  int32_t negative_offset = 0;
  std::vector<double> custom_values;
  CounterResetHint counter_reset_hint = CounterResetHint::kUnknown;
  bool counter_reset_hint_set = false;  // written explicitly
};

// One position of a series. A float sample (value, possibly kStaleNaN), an omitted
// position (`_`), or a histogram. Histogram repetitions `{{A}}+{{B}}xN` / `{{A}}-{{B}}xN`
// are not summed here (that needs histogram arithmetic): position i holds
// histogram = A, increment = B, steps = i, subtract; the value is A (+/-) i*B.
struct SequenceValue {
  double value = 0;
  bool omitted = false;
  std::optional<HistogramDesc> histogram;
  std::optional<HistogramDesc> increment;
  uint64_t steps = 0;
  bool subtract = false;
};

struct SeriesDesc {
  model::Labels labels;
  std::vector<SequenceValue> values;
};

// Parses a series description line. Values expand as upstream: `axN` is N+1 copies,
// `a+bxN` is N+1 values made by repeated float64 addition, `_xN` is N omitted positions.
// Hexadecimal numbers are not accepted (as upstream: `0x5` is "0 repeated 5 times").
// Returns InvalidArgument "L:C: parse error: ..." on bad input or when the expansion would
// exceed `max_values` positions.
absl::StatusOr<SeriesDesc> ParseSeriesDesc(std::string_view input,
                                           size_t max_values = 10'000'000);

}  // namespace strata::promql::parser
