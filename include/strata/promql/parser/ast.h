// strata::promql::parser AST: the typed syntax tree of a PromQL expression.
//
// The node set mirrors Prometheus's promql/parser/ast.go so an evaluator reads beside
// upstream's engine.go: NumberLiteral, StringLiteral, VectorSelector, MatrixSelector,
// SubqueryExpr, ParenExpr, UnaryExpr, BinaryExpr, AggregateExpr, Call, plus DurationExpr
// for the 3.x duration arithmetic inside `[...]` and after `offset`.
//
// Every node derives from Expr, carries its NodeKind (switch on kind() and static_cast, or
// use As<T>()), its byte range in the query text (pos) and its ValueType. Children are owned
// through ExprPtr (std::unique_ptr). The tree is produced by ParseExpr (parser.h), which has
// already type checked it: e.g. Call arguments have the types Function::arg_types asks for.
//
// Time values are int64 milliseconds, as Prometheus's time.Duration values truncated to ms
// (PromQL cannot express finer durations). When a range, step or offset was written as a
// non-literal duration expression (`[5m+1s]`, `offset step()`), the literal field is 0 and
// the *_expr field holds the DurationExpr; the evaluator resolves it with EvalDurationExpr.
//
// Thread-safety: a finished tree is immutable and safe to read from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/model/matcher.h"

namespace strata::promql::parser {

enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };

// Prometheus's DocumentedType: "scalar", "instant vector", "range vector", "string".
std::string_view DocumentedType(ValueType t);

// Byte offsets [start, end) into the query text.
struct PosRange {
  int32_t start = 0;
  int32_t end = 0;
};

enum class NodeKind {
  kNumberLiteral,
  kStringLiteral,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kParen,
  kUnary,
  kBinary,
  kAggregate,
  kCall,
  kDuration,
};

class Expr {
 public:
  virtual ~Expr() = default;
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;

  NodeKind kind() const { return kind_; }
  // The type of value the expression evaluates to.
  virtual ValueType type() const = 0;

  PosRange pos;

 protected:
  explicit Expr(NodeKind kind) : kind_(kind) {}

 private:
  NodeKind kind_;
};

using ExprPtr = std::unique_ptr<Expr>;

// Checked downcast. Requires: e.kind() == T::kKind.
template <typename T>
const T& As(const Expr& e) {
  return static_cast<const T&>(e);
}
template <typename T>
T& As(Expr& e) {
  return static_cast<T&>(e);
}

// ---------------------------------------------------------------------------------------
// Operators.

enum class BinaryOp {
  kAdd, kSub, kMul, kDiv, kMod, kPow, kAtan2,  // arithmetic
  kTrimUpper, kTrimLower,                      // native-histogram trim: </ and >/
  kEql, kNeq, kGtr, kLss, kGte, kLte,          // comparison: == != > < >= <=
  kAnd, kOr, kUnless,                          // set
};
// "+", "==", "and", "atan2", ...
std::string_view BinaryOpString(BinaryOp op);
bool IsComparisonOp(BinaryOp op);
bool IsSetOp(BinaryOp op);

enum class AggregateOp {
  kSum, kAvg, kCount, kMin, kMax, kGroup, kStddev, kStdvar,
  kTopk, kBottomk, kCountValues, kQuantile, kLimitk, kLimitRatio,
};
// "sum", "count_values", "limit_ratio", ...
std::string_view AggregateOpString(AggregateOp op);
// True for topk, bottomk, count_values, quantile, limitk, limit_ratio.
bool AggregateOpHasParam(AggregateOp op);

// ---------------------------------------------------------------------------------------
// Modifiers shared by selectors and subqueries.

// The `@` modifier.
struct AtModifier {
  enum class Kind { kNone, kTimestamp, kStart, kEnd };
  Kind kind = Kind::kNone;
  int64_t timestamp_ms = 0;  // for kTimestamp: seconds * 1000, rounded as Prometheus does
};

// ---------------------------------------------------------------------------------------
// Nodes.

struct NumberLiteral final : Expr {
  static constexpr NodeKind kKind = NodeKind::kNumberLiteral;
  NumberLiteral() : Expr(kKind) {}
  ValueType type() const override { return ValueType::kScalar; }

  double value = 0;
  // Written as a duration (`5m` used as a number of seconds); printed back as one.
  bool duration = false;
};

struct StringLiteral final : Expr {
  static constexpr NodeKind kKind = NodeKind::kStringLiteral;
  StringLiteral() : Expr(kKind) {}
  ValueType type() const override { return ValueType::kString; }

  std::string value;  // unquoted bytes
};

struct VectorSelector final : Expr {
  static constexpr NodeKind kKind = NodeKind::kVectorSelector;
  VectorSelector() : Expr(kKind) {}
  ValueType type() const override { return ValueType::kVector; }

  // The metric name written outside the braces ("" if none). When set, `matchers` ends
  // with the matching __name__="name" equality matcher, as upstream's LabelMatchers.
  std::string name;
  std::vector<model::Matcher> matchers;

  // `offset`: either a literal (offset_ms, may be negative) or a duration expression.
  int64_t offset_ms = 0;
  ExprPtr offset_expr;
  AtModifier at;

  // 3.x extended range selectors (`foo[5m] anchored`, `foo[5m] smoothed`).
  bool anchored = false;
  bool smoothed = false;

  // Set on info()'s second argument, which may consist of empty-matching matchers only.
  bool bypass_empty_matcher_check = false;
};

struct MatrixSelector final : Expr {
  static constexpr NodeKind kKind = NodeKind::kMatrixSelector;
  MatrixSelector() : Expr(kKind) {}
  ValueType type() const override { return ValueType::kMatrix; }
  const VectorSelector& selector() const { return As<VectorSelector>(*vector_selector); }

  // Always a VectorSelector; its offset/@/anchored/smoothed apply to the range.
  ExprPtr vector_selector;
  int64_t range_ms = 0;  // literal range; 0 when range_expr is set
  ExprPtr range_expr;
};

struct SubqueryExpr final : Expr {
  static constexpr NodeKind kKind = NodeKind::kSubquery;
  SubqueryExpr() : Expr(kKind) {}
  ValueType type() const override { return ValueType::kMatrix; }

  ExprPtr expr;
  int64_t range_ms = 0;
  ExprPtr range_expr;
  int64_t step_ms = 0;  // 0 with no step_expr: `[5m:]`, the engine's default step
  ExprPtr step_expr;
  int64_t offset_ms = 0;
  ExprPtr offset_expr;
  AtModifier at;
};

struct ParenExpr final : Expr {
  static constexpr NodeKind kKind = NodeKind::kParen;
  ParenExpr() : Expr(kKind) {}
  ValueType type() const override { return expr->type(); }

  ExprPtr expr;
};

struct UnaryExpr final : Expr {
  static constexpr NodeKind kKind = NodeKind::kUnary;
  UnaryExpr() : Expr(kKind) {}
  ValueType type() const override { return expr->type(); }

  bool negate = false;  // `-x` (true) or `+x` (false)
  ExprPtr expr;
};

enum class Cardinality { kOneToOne, kManyToOne, kOneToMany, kManyToMany };

struct VectorMatching {
  Cardinality card = Cardinality::kOneToOne;
  // on(...) (true) or ignoring(...) (false); labels as written.
  bool on = false;
  std::vector<std::string> matching_labels;
  // group_left(...)/group_right(...) extra labels.
  std::vector<std::string> include;
  // Experimental fill()/fill_left()/fill_right(): value for a missing series on that side.
  std::optional<double> fill_lhs;
  std::optional<double> fill_rhs;
};

struct BinaryExpr final : Expr {
  static constexpr NodeKind kKind = NodeKind::kBinary;
  BinaryExpr() : Expr(kKind) {}
  ValueType type() const override {
    return lhs->type() == ValueType::kScalar && rhs->type() == ValueType::kScalar
               ? ValueType::kScalar
               : ValueType::kVector;
  }

  BinaryOp op = BinaryOp::kAdd;
  ExprPtr lhs;
  ExprPtr rhs;
  bool return_bool = false;
  // Present iff both sides are instant vectors (upstream sets VectorMatching to nil
  // otherwise). Set operators always have card kManyToMany.
  std::optional<VectorMatching> matching;
};

struct AggregateExpr final : Expr {
  static constexpr NodeKind kKind = NodeKind::kAggregate;
  AggregateExpr() : Expr(kKind) {}
  ValueType type() const override { return ValueType::kVector; }

  AggregateOp op = AggregateOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // set iff AggregateOpHasParam(op)
  std::vector<std::string> grouping;
  bool without = false;
};

struct Function;  // functions.h

struct Call final : Expr {
  static constexpr NodeKind kKind = NodeKind::kCall;
  Call() : Expr(kKind) {}
  ValueType type() const override;

  const Function* func = nullptr;  // static storage; never null in a parsed tree
  std::vector<ExprPtr> args;
};

// Arithmetic on durations (seconds as float64), inside `[...]` and after `offset` only.
// Elsewhere min_of()/max_of()/step()/range() are ordinary Calls of scalar functions.
enum class DurationOp {
  kAdd, kSub, kMul, kDiv, kMod, kPow,  // binary: lhs op rhs
  kNeg,                                // unary minus: -rhs
  kStep, kRange,                       // step(), range(): the query's step / end-start
  kMin, kMax,                          // min_of(lhs, rhs), max_of(lhs, rhs)
};

struct DurationExpr final : Expr {
  static constexpr NodeKind kKind = NodeKind::kDuration;
  DurationExpr() : Expr(kKind) {}
  ValueType type() const override { return ValueType::kScalar; }

  DurationOp op = DurationOp::kAdd;
  ExprPtr lhs;  // NumberLiteral or DurationExpr; null for unary ops, step() and range()
  ExprPtr rhs;
  bool wrapped = false;  // written inside parentheses
};

// What step() and range() mean while resolving a duration expression.
struct DurationContext {
  int64_t step_ms = 0;
  int64_t range_ms = 0;  // end - start of a range query, 0 for an instant query
};

// Evaluates a duration expression (a NumberLiteral or DurationExpr) to seconds, with
// Prometheus's float64 arithmetic (math.Mod for %, math.Pow for ^). Returns
// InvalidArgument for division or modulo by zero and for a node that is not a duration.
absl::StatusOr<double> EvalDurationExpr(const Expr& e, const DurationContext& ctx);

// Deep structural equality, ignoring positions and the order of a selector's matchers
// (used by round-trip tests).
bool Equal(const Expr& a, const Expr& b);

// Returns a deep copy of `e` (positions kept).
ExprPtr Clone(const Expr& e);

// Calls `f(node)` for `e` and every node below it, parents first.
template <typename F>
void Walk(const Expr& e, F&& f);

// ---------------------------------------------------------------------------------------
// Implementation of Walk.

namespace internal {
// The children of `e` in source order (null entries skipped).
std::vector<const Expr*> Children(const Expr& e);
}  // namespace internal

template <typename F>
void Walk(const Expr& e, F&& f) {
  f(e);
  for (const Expr* c : internal::Children(e)) Walk(*c, f);
}

}  // namespace strata::promql::parser
