#include "strata/promql/parser/printer.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "strata/model/labels.h"
#include "strata/promql/parser/functions.h"
#include "strata/promql/parser/parser.h"

namespace strata::promql::parser {
namespace {

// strconv.FormatFloat(v, 'f', -1, 64): shortest digits that round-trip, fixed notation.
void AppendFloat(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[1100];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  out->append(buf, ec == std::errc() ? p : buf);
}

// Legacy names print bare, others quoted. In grouping lists "inf" and "nan" (any case)
// are quoted too: the lexer reads them as numbers there, so `by (inf)` would not parse.
void AppendLabelName(std::string_view name, std::string* out, bool grouping = false) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (model::IsLegacyLabelName(name) && !(grouping && (lower == "inf" || lower == "nan"))) {
    out->append(name);
  } else {
    out->append(model::QuoteGo(name));
  }
}

// " (a, b)" as upstream's writeLabels between " on (" and ")".
void AppendLabelList(const std::vector<std::string>& labels, std::string* out) {
  out->append(" (");
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out->append(", ");
    AppendLabelName(labels[i], out, /*grouping=*/true);
  }
  out->push_back(')');
}

void AppendAt(const AtModifier& at, std::string* out) {
  switch (at.kind) {
    case AtModifier::Kind::kNone: return;
    case AtModifier::Kind::kStart: out->append(" @ start()"); return;
    case AtModifier::Kind::kEnd: out->append(" @ end()"); return;
    case AtModifier::Kind::kTimestamp: {
      // Go's "%.3f" of ms/1000, written from the integer so it is exact.
      const int64_t ms = at.timestamp_ms;
      const uint64_t mag = ms < 0 ? static_cast<uint64_t>(-(ms + 1)) + 1 : ms;
      char frac[4] = {static_cast<char>('0' + (mag % 1000) / 100),
                      static_cast<char>('0' + (mag % 100) / 10),
                      static_cast<char>('0' + mag % 10), 0};
      absl::StrAppend(out, " @ ", ms < 0 ? "-" : "", mag / 1000, ".", frac);
      return;
    }
  }
}

class Printer {
 public:
  explicit Printer(std::string* out) : out_(out) {}

  void Print(const Expr& e) {
    switch (e.kind()) {
      case NodeKind::kNumberLiteral: {
        const auto& n = As<NumberLiteral>(e);
        // Duration literals hold a whole number of milliseconds below 2^44 (the parser
        // bounds them to time.Duration's range), so rounding recovers it exactly.
        if (n.duration && std::isfinite(n.value) && std::fabs(n.value) < 1e13) {
          const auto v = static_cast<int64_t>(std::round(std::fabs(n.value) * 1000.0));
          // signbit, not < 0: "-0m" must print as "-0s" to parse back to -0.
          if (std::signbit(n.value)) out_->push_back('-');
          out_->append(FormatDuration(v));
          return;
        }
        AppendFloat(n.value, out_);
        return;
      }
      case NodeKind::kStringLiteral:
        out_->append(model::QuoteGo(As<StringLiteral>(e).value));
        return;
      case NodeKind::kVectorSelector: {
        const auto& vs = As<VectorSelector>(e);
        Selector(vs);
        AppendAt(vs.at, out_);
        Modifiers(vs.anchored, vs.smoothed, AtModifier{}, vs.offset_ms, vs.offset_expr.get());
        return;
      }
      case NodeKind::kMatrixSelector: {
        const auto& m = As<MatrixSelector>(e);
        const auto& vs = m.selector();
        Selector(vs);
        out_->push_back('[');
        Duration(m.range_ms, m.range_expr.get());
        out_->push_back(']');
        Modifiers(vs.anchored, vs.smoothed, vs.at, vs.offset_ms, vs.offset_expr.get());
        return;
      }
      case NodeKind::kSubquery: {
        const auto& s = As<SubqueryExpr>(e);
        Print(*s.expr);
        out_->push_back('[');
        Duration(s.range_ms, s.range_expr.get());
        out_->push_back(':');
        if (s.step_expr || s.step_ms != 0) Duration(s.step_ms, s.step_expr.get());
        out_->push_back(']');
        Modifiers(false, false, s.at, s.offset_ms, s.offset_expr.get());
        return;
      }
      case NodeKind::kParen:
        out_->push_back('(');
        Print(*As<ParenExpr>(e).expr);
        out_->push_back(')');
        return;
      case NodeKind::kUnary:
        out_->push_back(As<UnaryExpr>(e).negate ? '-' : '+');
        Print(*As<UnaryExpr>(e).expr);
        return;
      case NodeKind::kBinary:
        Binary(As<BinaryExpr>(e));
        return;
      case NodeKind::kAggregate: {
        const auto& a = As<AggregateExpr>(e);
        out_->append(AggregateOpString(a.op));
        if (a.without) {
          out_->append(" without");
          AppendLabelList(a.grouping, out_);
          out_->push_back(' ');
        } else if (!a.grouping.empty()) {
          out_->append(" by");
          AppendLabelList(a.grouping, out_);
          out_->push_back(' ');
        }
        out_->push_back('(');
        if (a.param) {
          Print(*a.param);
          out_->append(", ");
        }
        Print(*a.expr);
        out_->push_back(')');
        return;
      }
      case NodeKind::kCall: {
        const auto& c = As<Call>(e);
        out_->append(c.func->name);
        out_->push_back('(');
        for (size_t i = 0; i < c.args.size(); ++i) {
          if (i > 0) out_->append(", ");
          Print(*c.args[i]);
        }
        out_->push_back(')');
        return;
      }
      case NodeKind::kDuration:
        DurationNode(As<DurationExpr>(e));
        return;
    }
  }

 private:
  // As upstream: the name, then the other matchers sorted as strings and joined by ",".
  void Selector(const VectorSelector& vs) {
    std::vector<std::string> rest;
    for (const auto& m : vs.matchers) {
      // The name written outside the braces is an equality matcher on __name__.
      if (!vs.name.empty() && m.name() == model::kMetricName &&
          m.type() == model::MatchType::kEqual && m.value() == vs.name) {
        continue;
      }
      std::string str;
      AppendLabelName(m.name(), &str);
      str.append(model::MatchTypeString(m.type()));
      str.append(model::QuoteGo(m.value()));
      rest.push_back(std::move(str));
    }
    out_->append(vs.name);
    // A nameless selector without matchers (info()'s `{}`) still needs its braces.
    if (rest.empty() && !vs.name.empty()) return;
    std::sort(rest.begin(), rest.end());
    out_->push_back('{');
    for (size_t i = 0; i < rest.size(); ++i) {
      if (i > 0) out_->push_back(',');
      out_->append(rest[i]);
    }
    out_->push_back('}');
  }

  void Modifiers(bool anchored, bool smoothed, const AtModifier& at, int64_t offset_ms,
                 const Expr* offset_expr) {
    if (anchored) out_->append(" anchored");
    if (smoothed) out_->append(" smoothed");
    AppendAt(at, out_);
    if (offset_expr != nullptr) {
      out_->append(" offset ");
      Print(*offset_expr);
    } else if (offset_ms > 0) {
      out_->append(" offset ");
      out_->append(FormatDuration(offset_ms));
    } else if (offset_ms < 0) {
      out_->append(" offset -");
      out_->append(FormatDuration(-offset_ms));
    }
  }

  void Duration(int64_t ms, const Expr* expr) {
    if (expr != nullptr) {
      Print(*expr);
    } else {
      out_->append(FormatDuration(ms));
    }
  }

  void DurationNode(const DurationExpr& d) {
    if (d.wrapped) out_->push_back('(');
    switch (d.op) {
      case DurationOp::kStep: out_->append("step()"); break;
      case DurationOp::kRange: out_->append("range()"); break;
      case DurationOp::kMin:
      case DurationOp::kMax:
        out_->append(d.op == DurationOp::kMin ? "min_of(" : "max_of(");
        Print(*d.lhs);
        out_->append(", ");
        Print(*d.rhs);
        out_->push_back(')');
        break;
      case DurationOp::kNeg:
        out_->push_back('-');
        Print(*d.rhs);
        break;
      default: {
        static constexpr std::string_view kOps[] = {" + ", " - ", " * ", " / ", " % ", " ^ "};
        Print(*d.lhs);
        out_->append(kOps[static_cast<int>(d.op)]);
        Print(*d.rhs);
        break;
      }
    }
    if (d.wrapped) out_->push_back(')');
  }

  void Binary(const BinaryExpr& b) {
    Print(*b.lhs);
    out_->push_back(' ');
    out_->append(BinaryOpString(b.op));
    if (b.return_bool) out_->append(" bool");
    if (b.matching) {
      const VectorMatching& m = *b.matching;
      const bool grouped =
          m.card == Cardinality::kManyToOne || m.card == Cardinality::kOneToMany;
      if (!m.matching_labels.empty() || m.on || grouped) {
        out_->append(m.on ? " on" : " ignoring");
        AppendLabelList(m.matching_labels, out_);
        if (grouped) {
          out_->append(m.card == Cardinality::kManyToOne ? " group_left" : " group_right");
          AppendLabelList(m.include, out_);
        }
      }
      // fill(v) only when both sides hold the same bits (-0 and 0 differ).
      if (m.fill_lhs && m.fill_rhs &&
          (std::bit_cast<uint64_t>(*m.fill_lhs) == std::bit_cast<uint64_t>(*m.fill_rhs) ||
           (std::isnan(*m.fill_lhs) && std::isnan(*m.fill_rhs)))) {
        out_->append(" fill (");
        AppendFloat(*m.fill_lhs, out_);
        out_->push_back(')');
      } else {
        if (m.fill_lhs) {
          out_->append(" fill_left (");
          AppendFloat(*m.fill_lhs, out_);
          out_->push_back(')');
        }
        if (m.fill_rhs) {
          out_->append(" fill_right (");
          AppendFloat(*m.fill_rhs, out_);
          out_->push_back(')');
        }
      }
    }
    out_->push_back(' ');
    Print(*b.rhs);
  }

  std::string* out_;
};

}  // namespace

std::string Print(const Expr& e) {
  std::string out;
  Printer(&out).Print(e);
  return out;
}

}  // namespace strata::promql::parser
