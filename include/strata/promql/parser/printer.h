// strata::promql::parser printer: AST -> canonical PromQL text, following Prometheus's
// String() methods (promql/parser/printer.go): single spaces around binary operators,
// `sum by (a, b) (x)`, `f(a, b)`, durations as model.Duration strings, @ timestamps with
// three decimals, strings Go-quoted, non-legacy names quoted (`{"my.metric", "a.b"="x"}`).
//
// Guarantee (tested on the conformance corpus and by the fuzzer): for a tree t returned by
// ParseExpr, ParseExpr(Print(t)) succeeds, is Equal() to t, and prints identically.
// Thread-safety: reentrant.
#pragma once

#include <string>

#include "strata/promql/parser/ast.h"

namespace strata::promql::parser {

// Returns the canonical text of `e`.
std::string Print(const Expr& e);

}  // namespace strata::promql::parser
