// strata::promql::parser function table: name, argument types and return type of every
// PromQL function, as Prometheus's promql/parser/functions.go.
//
// Two function sets exist: the current 3.x set, and the 2.x set (Prometheus 2.42) that
// still has holt_winters and lacks the 3.x additions. ParseOptions::compat_2x picks one.
// Function descriptors have static storage duration; Call::func points at them.
// Thread-safety: immutable, safe to use from any thread.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "strata/promql/parser/ast.h"

namespace strata::promql::parser {

struct Function {
  std::string_view name;
  std::vector<ValueType> arg_types;
  // 0: exactly arg_types.size() arguments. N > 0: the last argument type is optional and
  // may repeat, for between arg_types.size()-1 and arg_types.size()-1+N arguments.
  // -1: the last argument type may repeat without limit (at least arg_types.size()-1).
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
  // Needs ParseOptions::experimental_functions (upstream's
  // --enable-feature=promql-experimental-functions).
  bool experimental = false;
  // Exists only in 3.x (false for functions Prometheus 2.42 already had).
  bool since_3x = false;
  // Exists only in 2.x (holt_winters, renamed double_exponential_smoothing in 3.0).
  bool only_2x = false;
  // Which functions accept the 3.x `anchored` / `smoothed` range modifiers (upstream's
  // AnchoredSafeFunctions / SmoothedSafeFunctions); the engine enforces this.
  bool anchored_ok = false;
  bool smoothed_ok = false;
};

// The function called `name` in the 3.x set (compat_2x false) or the 2.x set, or nullptr.
// Experimental functions are returned too; the parser checks Function::experimental.
const Function* LookupFunction(std::string_view name, bool compat_2x = false);

// Every function of the chosen set, sorted by name.
std::vector<const Function*> AllFunctions(bool compat_2x = false);

}  // namespace strata::promql::parser
