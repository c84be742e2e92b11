#include "strata/promql/parser/functions.h"

#include <algorithm>

namespace strata::promql::parser {
namespace {

constexpr ValueType V = ValueType::kVector;
constexpr ValueType M = ValueType::kMatrix;
constexpr ValueType S = ValueType::kScalar;
constexpr ValueType Str = ValueType::kString;

struct Flags {
  bool experimental = false;
  bool since_3x = false;
  bool only_2x = false;
  bool anchored_ok = false;
  bool smoothed_ok = false;
};

Function F(std::string_view name, std::vector<ValueType> args, ValueType ret, int variadic = 0,
           Flags f = {}) {
  Function fn;
  fn.name = name;
  fn.arg_types = std::move(args);
  fn.variadic = variadic;
  fn.return_type = ret;
  fn.experimental = f.experimental;
  fn.since_3x = f.since_3x;
  fn.only_2x = f.only_2x;
  fn.anchored_ok = f.anchored_ok;
  fn.smoothed_ok = f.smoothed_ok;
  return fn;
}

// Prometheus promql/parser/functions.go (3.x main) plus holt_winters from v2.42.0.
// since_3x marks functions v2.42.0's table does not have.
const std::vector<Function>& Table() {
  static const std::vector<Function>* table = [] {
    const Flags exp3{.experimental = true, .since_3x = true};
    const Flags new3{.since_3x = true};
    auto* t = new std::vector<Function>{
        F("abs", {V}, V),
        F("absent", {V}, V),
        F("absent_over_time", {M}, V),
        F("acos", {V}, V),
        F("acosh", {V}, V),
        F("asin", {V}, V),
        F("asinh", {V}, V),
        F("atan", {V}, V),
        F("atanh", {V}, V),
        F("avg_over_time", {M}, V),
        F("ceil", {V}, V),
        F("changes", {M}, V, 0, {.anchored_ok = true}),
        F("clamp", {V, S, S}, V),
        F("clamp_max", {V, S}, V),
        F("clamp_min", {V, S}, V),
        F("cos", {V}, V),
        F("cosh", {V}, V),
        F("count_over_time", {M}, V),
        F("days_in_month", {V}, V, 1),
        F("day_of_month", {V}, V, 1),
        F("day_of_week", {V}, V, 1),
        F("day_of_year", {V}, V, 1),
        F("deg", {V}, V),
        F("delta", {M}, V, 0, {.anchored_ok = true, .smoothed_ok = true}),
        F("deriv", {M}, V),
        F("double_exponential_smoothing", {M, S, S}, V, 0, exp3),
        F("end", {}, S, 0, exp3),
        F("exp", {V}, V),
        F("first_over_time", {M}, V, 0, exp3),
        F("floor", {V}, V),
        F("histogram_avg", {V}, V, 0, new3),
        F("histogram_count", {V}, V),
        F("histogram_fraction", {S, S, V}, V),
        F("histogram_quantile", {S, V}, V),
        F("histogram_quantiles", {V, Str, S, S}, V, 9, exp3),
        F("histogram_stddev", {V}, V, 0, new3),
        F("histogram_stdvar", {V}, V, 0, new3),
        F("histogram_sum", {V}, V),
        F("holt_winters", {M, S, S}, V, 0, {.only_2x = true}),
        F("hour", {V}, V, 1),
        F("idelta", {M}, V),
        F("increase", {M}, V, 0, {.anchored_ok = true, .smoothed_ok = true}),
        F("info", {V, V}, V, 1, exp3),
        F("integral", {M, S}, V, 1, exp3),
        F("irate", {M}, V),
        F("label_join", {V, Str, Str, Str}, V, -1),
        F("label_replace", {V, Str, Str, Str, Str}, V),
        F("last_over_time", {M}, V),
        F("ln", {V}, V),
        F("log10", {V}, V),
        F("log2", {V}, V),
        F("mad_over_time", {M}, V, 0, exp3),
        // Outside [...] and offset, min_of/max_of are scalar functions (functions.test:
        // "min_of(a, b) returns math.Min(a, b)"); inside they are DurationExpr nodes.
        F("max_of", {S, S}, S, 0, exp3),
        F("max_over_time", {M}, V),
        F("min_of", {S, S}, S, 0, exp3),
        F("min_over_time", {M}, V),
        F("minute", {V}, V, 1),
        F("month", {V}, V, 1),
        F("pi", {}, S),
        F("predict_linear", {M, S}, V),
        F("present_over_time", {M}, V),
        F("quantile_over_time", {S, M}, V),
        F("rad", {V}, V),
        F("range", {}, S, 0, exp3),
        F("rate", {M}, V, 0, {.anchored_ok = true, .smoothed_ok = true}),
        F("resets", {M}, V, 0, {.anchored_ok = true}),
        F("round", {V, S}, V, 1),
        F("scalar", {V}, S),
        F("sgn", {V}, V),
        F("sin", {V}, V),
        F("sinh", {V}, V),
        F("sort", {V}, V),
        F("sort_by_label", {V, Str}, V, -1, exp3),
        F("sort_by_label_desc", {V, Str}, V, -1, exp3),
        F("sort_desc", {V}, V),
        F("sqrt", {V}, V),
        F("start", {}, S, 0, exp3),
        F("start_timestamp", {V}, V, 0, exp3),
        F("stddev_over_time", {M}, V),
        F("stdvar_over_time", {M}, V),
        F("step", {}, S, 0, exp3),
        F("sum_over_time", {M}, V),
        F("tan", {V}, V),
        F("tanh", {V}, V),
        F("time", {}, S),
        F("timestamp", {V}, V),
        F("ts_of_first_over_time", {M}, V, 0, exp3),
        F("ts_of_last_over_time", {M}, V, 0, exp3),
        F("ts_of_max_over_time", {M}, V, 0, exp3),
        F("ts_of_min_over_time", {M}, V, 0, exp3),
        F("vector", {S}, V),
        F("year", {V}, V, 1),
    };
    std::sort(t->begin(), t->end(),
              [](const Function& a, const Function& b) { return a.name < b.name; });
    return t;
  }();
  return *table;
}

bool InSet(const Function& f, bool compat_2x) {
  return compat_2x ? !f.since_3x : !f.only_2x;
}

}  // namespace

const Function* LookupFunction(std::string_view name, bool compat_2x) {
  const auto& t = Table();
  auto it = std::lower_bound(t.begin(), t.end(), name,
                             [](const Function& f, std::string_view n) { return f.name < n; });
  if (it == t.end() || it->name != name || !InSet(*it, compat_2x)) return nullptr;
  return &*it;
}

std::vector<const Function*> AllFunctions(bool compat_2x) {
  std::vector<const Function*> out;
  for (const Function& f : Table()) {
    if (InSet(f, compat_2x)) out.push_back(&f);
  }
  return out;
}

}  // namespace strata::promql::parser
