#include "strata/promql/parser/ast.h"

#include <algorithm>
#include <bit>
#include <tuple>
#include <cmath>
#include <cstdint>

#include "absl/status/status.h"
#include "strata/promql/parser/functions.h"

namespace strata::promql::parser {

std::string_view DocumentedType(ValueType t) {
  switch (t) {
    case ValueType::kNone: return "none";
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "instant vector";
    case ValueType::kMatrix: return "range vector";
    case ValueType::kString: return "string";
  }
  return "none";
}

std::string_view BinaryOpString(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSub: return "-";
    case BinaryOp::kMul: return "*";
    case BinaryOp::kDiv: return "/";
    case BinaryOp::kMod: return "%";
    case BinaryOp::kPow: return "^";
    case BinaryOp::kAtan2: return "atan2";
    case BinaryOp::kTrimUpper: return "</";
    case BinaryOp::kTrimLower: return ">/";
    case BinaryOp::kEql: return "==";
    case BinaryOp::kNeq: return "!=";
    case BinaryOp::kGtr: return ">";
    case BinaryOp::kLss: return "<";
    case BinaryOp::kGte: return ">=";
    case BinaryOp::kLte: return "<=";
    case BinaryOp::kAnd: return "and";
    case BinaryOp::kOr: return "or";
    case BinaryOp::kUnless: return "unless";
  }
  return "?";
}

bool IsComparisonOp(BinaryOp op) { return op >= BinaryOp::kEql && op <= BinaryOp::kLte; }
bool IsSetOp(BinaryOp op) { return op >= BinaryOp::kAnd; }

std::string_view AggregateOpString(AggregateOp op) {
  switch (op) {
    case AggregateOp::kSum: return "sum";
    case AggregateOp::kAvg: return "avg";
    case AggregateOp::kCount: return "count";
    case AggregateOp::kMin: return "min";
    case AggregateOp::kMax: return "max";
    case AggregateOp::kGroup: return "group";
    case AggregateOp::kStddev: return "stddev";
    case AggregateOp::kStdvar: return "stdvar";
    case AggregateOp::kTopk: return "topk";
    case AggregateOp::kBottomk: return "bottomk";
    case AggregateOp::kCountValues: return "count_values";
    case AggregateOp::kQuantile: return "quantile";
    case AggregateOp::kLimitk: return "limitk";
    case AggregateOp::kLimitRatio: return "limit_ratio";
  }
  return "?";
}

bool AggregateOpHasParam(AggregateOp op) { return op >= AggregateOp::kTopk; }

ValueType Call::type() const { return func->return_type; }

absl::StatusOr<double> EvalDurationExpr(const Expr& e, const DurationContext& ctx) {
  if (e.kind() == NodeKind::kNumberLiteral) return As<NumberLiteral>(e).value;
  if (e.kind() == NodeKind::kParen) return EvalDurationExpr(*As<ParenExpr>(e).expr, ctx);
  if (e.kind() != NodeKind::kDuration) {
    return absl::InvalidArgumentError("not a duration expression");
  }
  const auto& d = As<DurationExpr>(e);
  double l = 0;
  double r = 0;
  if (d.lhs) {
    auto v = EvalDurationExpr(*d.lhs, ctx);
    if (!v.ok()) return v;
    l = *v;
  }
  if (d.rhs) {
    auto v = EvalDurationExpr(*d.rhs, ctx);
    if (!v.ok()) return v;
    r = *v;
  }
  switch (d.op) {
    case DurationOp::kAdd: return l + r;
    case DurationOp::kSub: return l - r;
    case DurationOp::kMul: return l * r;
    case DurationOp::kDiv:
      if (r == 0) return absl::InvalidArgumentError("division by zero");
      return l / r;
    case DurationOp::kMod:
      if (r == 0) return absl::InvalidArgumentError("modulo by zero");
      return std::fmod(l, r);
    case DurationOp::kPow: return std::pow(l, r);
    case DurationOp::kNeg: return -r;
    case DurationOp::kStep: return static_cast<double>(ctx.step_ms) / 1000.0;
    case DurationOp::kRange: return static_cast<double>(ctx.range_ms) / 1000.0;
    case DurationOp::kMin: return std::fmin(l, r);
    case DurationOp::kMax: return std::fmax(l, r);
  }
  return absl::InvalidArgumentError("unknown duration operator");
}

namespace internal {

std::vector<const Expr*> Children(const Expr& e) {
  std::vector<const Expr*> out;
  auto add = [&](const ExprPtr& p) {
    if (p) out.push_back(p.get());
  };
  switch (e.kind()) {
    case NodeKind::kNumberLiteral:
    case NodeKind::kStringLiteral:
      break;
    case NodeKind::kVectorSelector:
      add(As<VectorSelector>(e).offset_expr);
      break;
    case NodeKind::kMatrixSelector:
      add(As<MatrixSelector>(e).vector_selector);
      add(As<MatrixSelector>(e).range_expr);
      break;
    case NodeKind::kSubquery: {
      const auto& s = As<SubqueryExpr>(e);
      add(s.expr);
      add(s.range_expr);
      add(s.step_expr);
      add(s.offset_expr);
      break;
    }
    case NodeKind::kParen: add(As<ParenExpr>(e).expr); break;
    case NodeKind::kUnary: add(As<UnaryExpr>(e).expr); break;
    case NodeKind::kBinary:
      add(As<BinaryExpr>(e).lhs);
      add(As<BinaryExpr>(e).rhs);
      break;
    case NodeKind::kAggregate:
      add(As<AggregateExpr>(e).param);
      add(As<AggregateExpr>(e).expr);
      break;
    case NodeKind::kCall:
      for (const auto& a : As<Call>(e).args) add(a);
      break;
    case NodeKind::kDuration:
      add(As<DurationExpr>(e).lhs);
      add(As<DurationExpr>(e).rhs);
      break;
  }
  return out;
}

}  // namespace internal

namespace {

bool SameFloat(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b) ||
         (std::isnan(a) && std::isnan(b));
}

bool EqualPtr(const ExprPtr& a, const ExprPtr& b) {
  if (!a || !b) return !a && !b;
  return Equal(*a, *b);
}

// Matchers compare as a set: their order carries no meaning, and the printer sorts them
// (as upstream's VectorSelector.String does).
bool SameMatchers(const std::vector<model::Matcher>& a, const std::vector<model::Matcher>& b) {
  if (a.size() != b.size()) return false;
  auto key = [](const model::Matcher& m) {
    return std::make_tuple(m.name(), static_cast<int>(m.type()), m.value());
  };
  std::vector<std::tuple<std::string, int, std::string>> x, y;
  for (const auto& m : a) x.push_back(key(m));
  for (const auto& m : b) y.push_back(key(m));
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  return x == y;
}

bool SameAt(const AtModifier& a, const AtModifier& b) {
  return a.kind == b.kind && a.timestamp_ms == b.timestamp_ms;
}

bool SameOpt(const std::optional<double>& a, const std::optional<double>& b) {
  if (!a || !b) return !a && !b;
  return SameFloat(*a, *b);
}

bool SameMatching(const std::optional<VectorMatching>& a,
                  const std::optional<VectorMatching>& b) {
  if (!a || !b) return !a && !b;
  return a->card == b->card && a->on == b->on && a->matching_labels == b->matching_labels &&
         a->include == b->include && SameOpt(a->fill_lhs, b->fill_lhs) &&
         SameOpt(a->fill_rhs, b->fill_rhs);
}

}  // namespace

bool Equal(const Expr& a, const Expr& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case NodeKind::kNumberLiteral: {
      const auto& x = As<NumberLiteral>(a);
      const auto& y = As<NumberLiteral>(b);
      return SameFloat(x.value, y.value) && x.duration == y.duration;
    }
    case NodeKind::kStringLiteral:
      return As<StringLiteral>(a).value == As<StringLiteral>(b).value;
    case NodeKind::kVectorSelector: {
      const auto& x = As<VectorSelector>(a);
      const auto& y = As<VectorSelector>(b);
      return x.name == y.name && SameMatchers(x.matchers, y.matchers) && x.offset_ms == y.offset_ms &&
             EqualPtr(x.offset_expr, y.offset_expr) && SameAt(x.at, y.at) &&
             x.anchored == y.anchored && x.smoothed == y.smoothed &&
             x.bypass_empty_matcher_check == y.bypass_empty_matcher_check;
    }
    case NodeKind::kMatrixSelector: {
      const auto& x = As<MatrixSelector>(a);
      const auto& y = As<MatrixSelector>(b);
      return EqualPtr(x.vector_selector, y.vector_selector) && x.range_ms == y.range_ms &&
             EqualPtr(x.range_expr, y.range_expr);
    }
    case NodeKind::kSubquery: {
      const auto& x = As<SubqueryExpr>(a);
      const auto& y = As<SubqueryExpr>(b);
      return EqualPtr(x.expr, y.expr) && x.range_ms == y.range_ms &&
             EqualPtr(x.range_expr, y.range_expr) && x.step_ms == y.step_ms &&
             EqualPtr(x.step_expr, y.step_expr) && x.offset_ms == y.offset_ms &&
             EqualPtr(x.offset_expr, y.offset_expr) && SameAt(x.at, y.at);
    }
    case NodeKind::kParen:
      return EqualPtr(As<ParenExpr>(a).expr, As<ParenExpr>(b).expr);
    case NodeKind::kUnary:
      return As<UnaryExpr>(a).negate == As<UnaryExpr>(b).negate &&
             EqualPtr(As<UnaryExpr>(a).expr, As<UnaryExpr>(b).expr);
    case NodeKind::kBinary: {
      const auto& x = As<BinaryExpr>(a);
      const auto& y = As<BinaryExpr>(b);
      return x.op == y.op && x.return_bool == y.return_bool && EqualPtr(x.lhs, y.lhs) &&
             EqualPtr(x.rhs, y.rhs) && SameMatching(x.matching, y.matching);
    }
    case NodeKind::kAggregate: {
      const auto& x = As<AggregateExpr>(a);
      const auto& y = As<AggregateExpr>(b);
      return x.op == y.op && x.without == y.without && x.grouping == y.grouping &&
             EqualPtr(x.param, y.param) && EqualPtr(x.expr, y.expr);
    }
    case NodeKind::kCall: {
      const auto& x = As<Call>(a);
      const auto& y = As<Call>(b);
      if (x.func != y.func || x.args.size() != y.args.size()) return false;
      for (size_t i = 0; i < x.args.size(); ++i) {
        if (!EqualPtr(x.args[i], y.args[i])) return false;
      }
      return true;
    }
    case NodeKind::kDuration: {
      const auto& x = As<DurationExpr>(a);
      const auto& y = As<DurationExpr>(b);
      return x.op == y.op && x.wrapped == y.wrapped && EqualPtr(x.lhs, y.lhs) &&
             EqualPtr(x.rhs, y.rhs);
    }
  }
  return false;
}

namespace {
ExprPtr ClonePtr(const ExprPtr& p) { return p ? Clone(*p) : nullptr; }
}  // namespace

ExprPtr Clone(const Expr& e) {
  ExprPtr out;
  switch (e.kind()) {
    case NodeKind::kNumberLiteral: {
      auto n = std::make_unique<NumberLiteral>();
      n->value = As<NumberLiteral>(e).value;
      n->duration = As<NumberLiteral>(e).duration;
      out = std::move(n);
      break;
    }
    case NodeKind::kStringLiteral: {
      auto n = std::make_unique<StringLiteral>();
      n->value = As<StringLiteral>(e).value;
      out = std::move(n);
      break;
    }
    case NodeKind::kVectorSelector: {
      const auto& s = As<VectorSelector>(e);
      auto n = std::make_unique<VectorSelector>();
      n->name = s.name;
      n->matchers = s.matchers;
      n->offset_ms = s.offset_ms;
      n->offset_expr = ClonePtr(s.offset_expr);
      n->at = s.at;
      n->anchored = s.anchored;
      n->smoothed = s.smoothed;
      n->bypass_empty_matcher_check = s.bypass_empty_matcher_check;
      out = std::move(n);
      break;
    }
    case NodeKind::kMatrixSelector: {
      const auto& s = As<MatrixSelector>(e);
      auto n = std::make_unique<MatrixSelector>();
      n->vector_selector = ClonePtr(s.vector_selector);
      n->range_ms = s.range_ms;
      n->range_expr = ClonePtr(s.range_expr);
      out = std::move(n);
      break;
    }
    case NodeKind::kSubquery: {
      const auto& s = As<SubqueryExpr>(e);
      auto n = std::make_unique<SubqueryExpr>();
      n->expr = ClonePtr(s.expr);
      n->range_ms = s.range_ms;
      n->range_expr = ClonePtr(s.range_expr);
      n->step_ms = s.step_ms;
      n->step_expr = ClonePtr(s.step_expr);
      n->offset_ms = s.offset_ms;
      n->offset_expr = ClonePtr(s.offset_expr);
      n->at = s.at;
      out = std::move(n);
      break;
    }
    case NodeKind::kParen: {
      auto n = std::make_unique<ParenExpr>();
      n->expr = ClonePtr(As<ParenExpr>(e).expr);
      out = std::move(n);
      break;
    }
    case NodeKind::kUnary: {
      auto n = std::make_unique<UnaryExpr>();
      n->negate = As<UnaryExpr>(e).negate;
      n->expr = ClonePtr(As<UnaryExpr>(e).expr);
      out = std::move(n);
      break;
    }
    case NodeKind::kBinary: {
      const auto& s = As<BinaryExpr>(e);
      auto n = std::make_unique<BinaryExpr>();
      n->op = s.op;
      n->lhs = ClonePtr(s.lhs);
      n->rhs = ClonePtr(s.rhs);
      n->return_bool = s.return_bool;
      n->matching = s.matching;
      out = std::move(n);
      break;
    }
    case NodeKind::kAggregate: {
      const auto& s = As<AggregateExpr>(e);
      auto n = std::make_unique<AggregateExpr>();
      n->op = s.op;
      n->expr = ClonePtr(s.expr);
      n->param = ClonePtr(s.param);
      n->grouping = s.grouping;
      n->without = s.without;
      out = std::move(n);
      break;
    }
    case NodeKind::kCall: {
      const auto& s = As<Call>(e);
      auto n = std::make_unique<Call>();
      n->func = s.func;
      for (const auto& a : s.args) n->args.push_back(ClonePtr(a));
      out = std::move(n);
      break;
    }
    case NodeKind::kDuration: {
      const auto& s = As<DurationExpr>(e);
      auto n = std::make_unique<DurationExpr>();
      n->op = s.op;
      n->lhs = ClonePtr(s.lhs);
      n->rhs = ClonePtr(s.rhs);
      n->wrapped = s.wrapped;
      out = std::move(n);
      break;
    }
  }
  out->pos = e.pos;
  return out;
}

}  // namespace strata::promql::parser
