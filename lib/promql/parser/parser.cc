// Recursive-descent PromQL parser following Prometheus's generated_parser.y (3.x) and the
// semantic checks of parse.go (checkAST). Syntax errors stop at the first one; the type
// check then runs over the finished tree and reports the first problem in upstream's
// traversal order.
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "promql/parser/lexer.h"
#include "strata/base/status.h"
#include "strata/model/labels.h"
#include "strata/promql/parser/functions.h"
#include "strata/promql/parser/parser.h"

namespace strata::promql::parser {
namespace {

// String building on std::string_view (Debian's absl::StrCat takes only absl::string_view).
void AppendOne(std::string* s, std::string_view v) { s->append(v); }
void AppendOne(std::string* s, const char* v) { s->append(v); }
void AppendOne(std::string* s, const std::string& v) { s->append(v); }
template <typename T>
  requires std::is_integral_v<T>
void AppendOne(std::string* s, T v) {
  s->append(std::to_string(v));
}
template <typename... Args>
void AppendAll(std::string* s, const Args&... args) {
  (AppendOne(s, args), ...);
}
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string s;
  AppendAll(&s, args...);
  return s;
}

std::string ToLower(std::string_view v) {
  std::string s(v);
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// Binary operator precedence, lowest first, as the %left/%right lines of the grammar.
constexpr int kPrecOr = 1;
constexpr int kPrecAnd = 2;
constexpr int kPrecCmp = 3;
constexpr int kPrecAdd = 4;
constexpr int kPrecMul = 5;
constexpr int kPrecPow = 6;

int BinaryPrec(Tok t) {
  switch (t) {
    case Tok::kLor: return kPrecOr;
    case Tok::kLand:
    case Tok::kLunless: return kPrecAnd;
    case Tok::kEqlc:
    case Tok::kNeq:
    case Tok::kGtr:
    case Tok::kLss:
    case Tok::kGte:
    case Tok::kLte: return kPrecCmp;
    case Tok::kAdd:
    case Tok::kSub: return kPrecAdd;
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
    case Tok::kAtan2:
    // The trim operators' precedence is not documented upstream; they act as histogram
    // arithmetic with a scalar, so they share the multiplicative level.
    case Tok::kTrimUpper:
    case Tok::kTrimLower: return kPrecMul;
    case Tok::kPow: return kPrecPow;
    default: return -1;
  }
}

BinaryOp ToBinaryOp(Tok t) {
  switch (t) {
    case Tok::kAdd: return BinaryOp::kAdd;
    case Tok::kSub: return BinaryOp::kSub;
    case Tok::kMul: return BinaryOp::kMul;
    case Tok::kDiv: return BinaryOp::kDiv;
    case Tok::kMod: return BinaryOp::kMod;
    case Tok::kPow: return BinaryOp::kPow;
    case Tok::kAtan2: return BinaryOp::kAtan2;
    case Tok::kTrimUpper: return BinaryOp::kTrimUpper;
    case Tok::kTrimLower: return BinaryOp::kTrimLower;
    case Tok::kEqlc: return BinaryOp::kEql;
    case Tok::kNeq: return BinaryOp::kNeq;
    case Tok::kGtr: return BinaryOp::kGtr;
    case Tok::kLss: return BinaryOp::kLss;
    case Tok::kGte: return BinaryOp::kGte;
    case Tok::kLte: return BinaryOp::kLte;
    case Tok::kLand: return BinaryOp::kAnd;
    case Tok::kLor: return BinaryOp::kOr;
    default: return BinaryOp::kUnless;
  }
}

AggregateOp ToAggregateOp(Tok t) {
  switch (t) {
    case Tok::kSum: return AggregateOp::kSum;
    case Tok::kAvg: return AggregateOp::kAvg;
    case Tok::kCount: return AggregateOp::kCount;
    case Tok::kMin: return AggregateOp::kMin;
    case Tok::kMax: return AggregateOp::kMax;
    case Tok::kGroup: return AggregateOp::kGroup;
    case Tok::kStddev: return AggregateOp::kStddev;
    case Tok::kStdvar: return AggregateOp::kStdvar;
    case Tok::kTopk: return AggregateOp::kTopk;
    case Tok::kBottomk: return AggregateOp::kBottomk;
    case Tok::kCountValues: return AggregateOp::kCountValues;
    case Tok::kQuantile: return AggregateOp::kQuantile;
    case Tok::kLimitk: return AggregateOp::kLimitk;
    default: return AggregateOp::kLimitRatio;
  }
}

// Tokens the grammar's metric_identifier accepts as a metric name.
bool IsMetricIdentifierTok(Tok t) {
  if (IsAggregatorTok(t)) return true;
  switch (t) {
    case Tok::kIdentifier:
    case Tok::kMetricIdentifier:
    case Tok::kBy:
    case Tok::kLand:
    case Tok::kLor:
    case Tok::kLunless:
    case Tok::kOffset:
    case Tok::kWithout:
    case Tok::kStart:
    case Tok::kEnd:
    case Tok::kStep:
    case Tok::kRange:
    case Tok::kAnchored:
    case Tok::kSmoothed:
      return true;
    default:
      return false;
  }
}

// Tokens the grammar's maybe_label accepts as a label name in grouping lists.
bool IsMaybeLabelTok(Tok t) {
  return t == Tok::kIdentifier || t == Tok::kMetricIdentifier || IsAggregatorTok(t) ||
         IsKeywordTok(t) || t == Tok::kLand || t == Tok::kLor || t == Tok::kLunless ||
         t == Tok::kAtan2;
}

// Upstream bounds a literal duration so that it fits time.Duration (int64 ns).
// NaN passes, as upstream's `v > max || v < min`.
bool DurationOutOfRange(double seconds) {
  return seconds > 9223372036.854775807 || seconds < -9223372036.854775808;
}

// Seconds -> ms the way upstream does: time.Duration(math.Round(s*1e9)), then truncated
// to whole milliseconds. Requires: !DurationOutOfRange(seconds).
int64_t SecondsToMs(double seconds) {
  if (std::isnan(seconds)) return 0;
  // A value that is a whole number of milliseconds (every duration token, and what the
  // printer writes) maps to exactly that number, even where seconds*1e9 loses precision.
  const double ms = std::round(seconds * 1000.0);
  const double ulp = std::nextafter(std::fabs(ms), HUGE_VAL) - std::fabs(ms);
  if (std::fabs(seconds * 1000.0 - ms) <= std::max(1e-6, 8 * ulp) && std::fabs(ms) < 9.2e15) {
    return static_cast<int64_t>(ms);
  }
  const double ns = std::round(seconds * 1e9);
  if (ns >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max() / 1000000;
  if (ns <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min() / 1000000;
  return static_cast<int64_t>(ns) / 1000000;
}

// Go's %f for the out-of-bounds message.
std::string GoPercentF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return absl::StrFormat("%f", v);
}

std::string PositionString(std::string_view input, int32_t pos) {
  if (pos < 0 || static_cast<size_t>(pos) > input.size()) return "invalid position";
  int line = 1;
  int32_t last_break = -1;
  for (int32_t i = 0; i < pos; ++i) {
    if (input[i] == '\n') {
      last_break = i;
      ++line;
    }
  }
  return Cat(line, ":", pos - last_break);
}

class Parser {
 public:
  Parser(std::string_view input, const ParseOptions& opts)
      : in_(input), opts_(opts), toks_(Lex(input, LexOptions{.compat_2x = opts.compat_2x})) {}

  // Upstream's ParseMetricSelector: one vector selector and nothing else, no type check.
  absl::StatusOr<std::vector<model::Matcher>> RunSelector() {
    const Token& t = Peek();
    ExprPtr e;
    if (t.type == Tok::kLeftBrace) {
      e = ParseVectorSelector("", t.pos);
    } else if (IsMetricIdentifierTok(t.type)) {
      Next();
      e = ParseVectorSelector(t.text, t.pos);
    } else {
      Unexpected("", "");
    }
    if (!e) return status_;
    if (Peek().type != Tok::kEOF) {
      Unexpected("", "");
      return status_;
    }
    return std::move(As<VectorSelector>(*e).matchers);
  }

  absl::StatusOr<ExprPtr> Run() {
    if (Peek().type == Tok::kEOF) {
      Fail(0, "no expression found in input");
      return status_;
    }
    ExprPtr e = ParseExpr(0);
    if (!e) return status_;
    if (Peek().type != Tok::kEOF) {
      Unexpected("", "");
      return status_;
    }
    Check(*e);
    if (!status_.ok()) return status_;
    return e;
  }

 private:
  // ----- tokens and errors ---------------------------------------------------------------

  const Token& Peek(size_t k = 0) const {
    const size_t j = std::min(i_ + k, toks_.size() - 1);
    return toks_[j];
  }
  const Token& Next() {
    const Token& t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    last_end_ = t.pos + static_cast<int32_t>(t.text.size());
    return t;
  }
  bool Failed() const { return !status_.ok(); }

  void Fail(int32_t pos, std::string_view msg) {
    if (Failed()) return;
    status_ = absl::InvalidArgumentError(Cat(PositionString(in_, pos),
                                                      ": parse error: ", msg));
  }
  // Upstream's parser.unexpected(): complains about the next token.
  void Unexpected(std::string_view context, std::string_view expected) {
    const Token& t = Peek();
    if (t.type == Tok::kError) {
      Fail(t.pos, t.error);
      return;
    }
    std::string msg = Cat("unexpected ", DescribeToken(t));
    if (!context.empty()) AppendAll(&msg, " in ", context);
    if (!expected.empty()) AppendAll(&msg, ", expected ", expected);
    Fail(t.pos, msg);
  }
  bool Expect(Tok type, std::string_view context, std::string_view expected) {
    if (Peek().type == type) {
      Next();
      return true;
    }
    Unexpected(context, expected);
    return false;
  }

  // Tree depth bookkeeping: every node records 1 + the depth of its deepest child, so
  // loops that grow the tree without recursing (a+a+a..., x[1m:][1m:]...) are bounded too.
  bool Track(const Expr& e) {
    int d = 0;
    for (const Expr* c : internal::Children(e)) {
      auto it = depth_.find(c);
      if (it != depth_.end()) d = std::max(d, it->second);
    }
    depth_[&e] = d + 1;
    if (d + 1 > opts_.max_depth) {
      Fail(e.pos.start, Cat("expression nesting depth exceeds the limit of ",
                                     opts_.max_depth));
      return false;
    }
    return true;
  }

  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p(p) { ++p->recursion_; }
    ~DepthGuard() { --p->recursion_; }
    Parser* p;
  };
  bool CheckRecursion() {
    if (recursion_ > opts_.max_depth) {
      Fail(Peek().pos, Cat("expression nesting depth exceeds the limit of ",
                                    opts_.max_depth));
      return false;
    }
    return true;
  }

  // ----- expressions ---------------------------------------------------------------------

  ExprPtr ParseExpr(int min_prec) {
    DepthGuard g(this);
    if (!CheckRecursion()) return nullptr;
    ExprPtr lhs = ParseUnary();
    if (!lhs) return nullptr;
    while (true) {
      const Token& t = Peek();
      const int prec = BinaryPrec(t.type);
      if (prec < 0 || prec < min_prec) break;
      const Token op = Next();
      auto b = std::make_unique<BinaryExpr>();
      b->op = ToBinaryOp(op.type);
      if (!ParseBinModifiers(b.get())) return nullptr;
      ExprPtr rhs = ParseExpr(prec == kPrecPow ? prec : prec + 1);
      if (!rhs) return nullptr;
      b->pos = {lhs->pos.start, rhs->pos.end};
      b->lhs = std::move(lhs);
      b->rhs = std::move(rhs);
      if (b->matching && (b->matching->fill_lhs || b->matching->fill_rhs) &&
          !opts_.binop_fill_modifiers) {
        Fail(b->pos.start, "binop fill modifiers are experimental and not enabled");
        return nullptr;
      }
      if (!Track(*b)) return nullptr;
      lhs = std::move(b);
    }
    return lhs;
  }

  bool ParseBinModifiers(BinaryExpr* b) {
    VectorMatching m;
    if (Peek().type == Tok::kBool) {
      Next();
      b->return_bool = true;
    }
    if (Peek().type == Tok::kOn || Peek().type == Tok::kIgnoring) {
      m.on = Next().type == Tok::kOn;
      if (!ParseGroupingLabels(&m.matching_labels)) return false;
      if (Peek().type == Tok::kGroupLeft || Peek().type == Tok::kGroupRight) {
        m.card = Next().type == Tok::kGroupLeft ? Cardinality::kManyToOne
                                                 : Cardinality::kOneToMany;
        if (Peek().type == Tok::kLeftParen && !ParseGroupingLabels(&m.include)) return false;
      }
    }
    // fill(v), fill_left(v), fill_right(v): identifiers followed by "(" here, so a metric
    // called fill stays usable (`a + fill`).
    while (Peek().type == Tok::kIdentifier && Peek(1).type == Tok::kLeftParen &&
           (Peek().text == "fill" || Peek().text == "fill_left" ||
            Peek().text == "fill_right")) {
      const std::string_view which = Next().text;
      Next();  // (
      double v = 0;
      if (!ParseSignedNumber(&v, "fill modifier", "number")) return false;
      if (!Expect(Tok::kRightParen, "fill modifier", "\")\"")) return false;
      if (which != "fill_right") m.fill_lhs = v;
      if (which != "fill_left") m.fill_rhs = v;
    }
    b->matching = std::move(m);
    return true;
  }

  // [+-] NUMBER|DURATION as upstream's signed_or_unsigned_number.
  bool ParseSignedNumber(double* v, std::string_view context, std::string_view expected) {
    bool neg = false;
    if (Peek().type == Tok::kAdd || Peek().type == Tok::kSub) neg = Next().type == Tok::kSub;
    const Token& t = Peek();
    if (t.type == Tok::kNumber) {
      Next();
      if (!NumberValue(t, v)) return false;
    } else if (t.type == Tok::kDuration) {
      Next();
      auto d = ParseDuration(t.text);
      if (!d.ok()) {
        Fail(t.pos, base::ToStd(d.status().message()));
        return false;
      }
      *v = static_cast<double>(*d) / 1000.0;
    } else {
      Unexpected(context, expected);
      return false;
    }
    if (neg) *v = -*v;
    return true;
  }

  bool NumberValue(const Token& t, double* v) {
    bool range = false;
    if (!ParseNumber(t.text, v, &range)) {
      Fail(t.pos, Cat("error parsing number: strconv.ParseFloat: parsing \"", t.text, "\": ",
                      range ? "value out of range" : "invalid syntax"));
      return false;
    }
    return true;
  }

  ExprPtr ParseUnary() {
    const Token& t = Peek();
    if (t.type == Tok::kAdd || t.type == Tok::kSub) {
      const Token op = Next();
      // `unary_op expr %prec MUL`: only ^ binds tighter than the sign.
      ExprPtr e = ParseExpr(kPrecPow);
      if (!e) return nullptr;
      if (e->kind() == NodeKind::kNumberLiteral) {
        auto& n = As<NumberLiteral>(*e);
        if (op.type == Tok::kSub) n.value = -n.value;
        n.pos.start = op.pos;
        return e;
      }
      auto u = std::make_unique<UnaryExpr>();
      u->negate = op.type == Tok::kSub;
      u->pos = {op.pos, e->pos.end};
      u->expr = std::move(e);
      if (!Track(*u)) return nullptr;
      return u;
    }
    ExprPtr e = ParsePrimary();
    if (!e) return nullptr;
    return ParsePostfix(std::move(e));
  }

  ExprPtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kNumber: {
        Next();
        auto n = std::make_unique<NumberLiteral>();
        if (!NumberValue(t, &n->value)) return nullptr;
        n->pos = {t.pos, last_end_};
        Track(*n);
        return n;
      }
      case Tok::kDuration: {
        if (opts_.compat_2x) {
          Unexpected("", "");
          return nullptr;
        }
        Next();
        auto d = ParseDuration(t.text);
        if (!d.ok()) {
          Fail(t.pos, base::ToStd(d.status().message()));
          return nullptr;
        }
        auto n = std::make_unique<NumberLiteral>();
        n->value = static_cast<double>(*d) / 1000.0;
        n->duration = true;
        n->pos = {t.pos, last_end_};
        if (DurationOutOfRange(n->value)) {
          Fail(t.pos, "duration out of range");
          return nullptr;
        }
        Track(*n);
        return n;
      }
      case Tok::kString: {
        Next();
        auto s = std::make_unique<StringLiteral>();
        if (!Unquote(t, &s->value)) return nullptr;
        s->pos = {t.pos, last_end_};
        Track(*s);
        return s;
      }
      case Tok::kLeftParen: {
        Next();
        ExprPtr inner = ParseExpr(0);
        if (!inner) return nullptr;
        if (!Expect(Tok::kRightParen, "", "")) return nullptr;
        auto p = std::make_unique<ParenExpr>();
        p->pos = {t.pos, last_end_};
        p->expr = std::move(inner);
        if (!Track(*p)) return nullptr;
        return p;
      }
      case Tok::kLeftBrace:
        return ParseVectorSelector("", t.pos);
      default:
        break;
    }
    if (IsAggregatorTok(t.type)) {
      const Tok n = Peek(1).type;
      if (n == Tok::kLeftParen || n == Tok::kBy || n == Tok::kWithout) return ParseAggregate();
    }
    if ((t.type == Tok::kIdentifier || t.type == Tok::kStep || t.type == Tok::kRange ||
         t.type == Tok::kStart || t.type == Tok::kEnd) &&
        Peek(1).type == Tok::kLeftParen) {
      return ParseCall();
    }
    if (IsMetricIdentifierTok(t.type)) {
      Next();
      return ParseVectorSelector(t.text, t.pos);
    }
    Unexpected("", "");
    return nullptr;
  }

  bool Unquote(const Token& t, std::string* out) {
    std::string err;
    if (!UnquoteString(t.text, out, &err)) {
      Fail(t.pos, Cat("error unquoting string ", model::QuoteGo(t.text), ": ", err));
      return false;
    }
    return true;
  }

  ExprPtr ParseVectorSelector(std::string_view name, int32_t start) {
    auto vs = std::make_unique<VectorSelector>();
    vs->name = std::string(name);
    const model::MatcherOptions mopts{.dot_matches_newline = !opts_.compat_2x};
    if (Peek().type == Tok::kLeftBrace) {
      Next();
      while (true) {
        const Token& t = Peek();
        if (t.type == Tok::kRightBrace) {
          Next();
          break;
        }
        std::string label;
        if (t.type == Tok::kIdentifier) {
          Next();
          label = std::string(t.text);
        } else if (t.type == Tok::kString && !opts_.compat_2x) {
          Next();
          if (!Unquote(t, &label)) return nullptr;
          if (Peek().type == Tok::kComma || Peek().type == Tok::kRightBrace) {
            // A lone quoted string names the metric: {"my.metric"}.
            auto m = model::Matcher::Create(model::MatchType::kEqual, model::kMetricName,
                                            label, mopts);
            if (!m.ok()) {
              Fail(t.pos, base::ToStd(m.status().message()));
              return nullptr;
            }
            vs->matchers.push_back(*std::move(m));
            if (Peek().type == Tok::kComma) Next();
            continue;
          }
        } else {
          Unexpected("label matching", "identifier or \"}\"");
          return nullptr;
        }
        model::MatchType type;
        switch (Peek().type) {
          case Tok::kAssign: type = model::MatchType::kEqual; break;
          case Tok::kNeq: type = model::MatchType::kNotEqual; break;
          case Tok::kEqlRegex: type = model::MatchType::kRegexMatch; break;
          case Tok::kNeqRegex: type = model::MatchType::kRegexNoMatch; break;
          default:
            Unexpected("label matching", "label matching operator");
            return nullptr;
        }
        Next();
        const Token& v = Peek();
        if (v.type != Tok::kString) {
          Unexpected("label matching", "string");
          return nullptr;
        }
        Next();
        std::string value;
        if (!Unquote(v, &value)) return nullptr;
        auto m = model::Matcher::Create(type, label, value, mopts);
        if (!m.ok()) {
          Fail(t.pos, base::ToStd(m.status().message()));
          return nullptr;
        }
        vs->matchers.push_back(*std::move(m));
        if (Peek().type == Tok::kComma) {
          Next();
        } else if (Peek().type != Tok::kRightBrace) {
          Unexpected("label matching", "\",\" or \"}\"");
          return nullptr;
        }
      }
    }
    if (!vs->name.empty()) {
      auto m = model::Matcher::Create(model::MatchType::kEqual, model::kMetricName, vs->name,
                                      mopts);
      if (!m.ok()) {
        Fail(start, base::ToStd(m.status().message()));
        return nullptr;
      }
      vs->matchers.push_back(*std::move(m));
    }
    vs->pos = {start, last_end_};
    Track(*vs);
    return vs;
  }

  // "(" label, ... ")" for by/without/on/ignoring/group_x.
  bool ParseGroupingLabels(std::vector<std::string>* out) {
    if (!Expect(Tok::kLeftParen, "grouping opts", "\"(\"")) return false;
    out->clear();
    if (Peek().type == Tok::kRightParen) {
      Next();
      return true;
    }
    while (true) {
      const Token& t = Peek();
      std::string label;
      if (IsMaybeLabelTok(t.type)) {
        Next();
        label = std::string(t.text);
        const bool valid = opts_.compat_2x ? model::IsLegacyLabelName(label)
                                           : model::IsValidUtf8(label) && !label.empty();
        if (!valid) {
          if (opts_.compat_2x) {
            Fail(t.pos, Cat("unexpected ", DescribeToken(t),
                                     " in grouping opts, expected label"));
          } else {
            Fail(t.pos, Cat("invalid label name for grouping: ",
                                     model::QuoteGo(label)));
          }
          return false;
        }
      } else if (t.type == Tok::kString && !opts_.compat_2x) {
        Next();
        if (!Unquote(t, &label)) return false;
        if (label.empty() || !model::IsValidUtf8(label)) {
          Fail(t.pos, Cat("invalid label name for grouping: ", model::QuoteGo(label)));
          return false;
        }
      } else {
        Unexpected("grouping opts", "label");
        return false;
      }
      out->push_back(std::move(label));
      if (Peek().type == Tok::kComma) {
        Next();
        if (Peek().type == Tok::kRightParen) {
          Next();
          return true;
        }
        continue;
      }
      if (Peek().type == Tok::kRightParen) {
        Next();
        return true;
      }
      Unexpected("grouping opts", "\",\" or \")\"");
      return false;
    }
  }

  // "(" expr, ... ")"; the caller has checked that "(" comes next.
  bool ParseArgs(std::vector<ExprPtr>* args) {
    Next();  // (
    if (Peek().type == Tok::kRightParen) {
      Next();
      return true;
    }
    while (true) {
      ExprPtr e = ParseExpr(0);
      if (!e) return false;
      args->push_back(std::move(e));
      if (Peek().type == Tok::kComma) {
        const Token& comma = Next();
        if (Peek().type == Tok::kRightParen) {
          Fail(comma.pos, "trailing commas not allowed in function call args");
          return false;
        }
        continue;
      }
      if (Peek().type == Tok::kRightParen) {
        Next();
        return true;
      }
      Unexpected("", "");
      return false;
    }
  }

  ExprPtr ParseCall() {
    const Token& name = Next();
    const std::string lower = name.type == Tok::kIdentifier
                                  ? std::string(name.text)
                                  : ToLower(name.text);
    const Function* f = LookupFunction(lower, opts_.compat_2x);
    if (f == nullptr) {
      Fail(name.pos, Cat("unknown function with name ", model::QuoteGo(name.text)));
      return nullptr;
    }
    if (f->experimental && !opts_.experimental_functions) {
      Fail(name.pos, Cat("function ", model::QuoteGo(f->name), " is not enabled"));
      return nullptr;
    }
    auto c = std::make_unique<Call>();
    c->func = f;
    if (!ParseArgs(&c->args)) return nullptr;
    c->pos = {name.pos, last_end_};
    if (!Track(*c)) return nullptr;
    return c;
  }

  ExprPtr ParseAggregate() {
    const Token& op = Next();
    auto a = std::make_unique<AggregateExpr>();
    a->op = ToAggregateOp(op.type);
    bool have_modifier = false;
    if (Peek().type == Tok::kBy || Peek().type == Tok::kWithout) {
      a->without = Next().type == Tok::kWithout;
      if (!ParseGroupingLabels(&a->grouping)) return nullptr;
      have_modifier = true;
    }
    if (Peek().type != Tok::kLeftParen) {
      Unexpected("aggregation", "");
      return nullptr;
    }
    std::vector<ExprPtr> args;
    if (!ParseArgs(&args)) return nullptr;
    if (!have_modifier && (Peek().type == Tok::kBy || Peek().type == Tok::kWithout)) {
      a->without = Next().type == Tok::kWithout;
      if (!ParseGroupingLabels(&a->grouping)) return nullptr;
    }
    a->pos = {op.pos, last_end_};
    if (args.empty()) {
      Fail(op.pos, "no arguments for aggregate expression provided");
      return nullptr;
    }
    size_t want = 1;
    if (AggregateOpHasParam(a->op)) {
      if ((a->op == AggregateOp::kLimitk || a->op == AggregateOp::kLimitRatio) &&
          !opts_.experimental_functions) {
        Fail(op.pos, Cat(AggregateOpString(a->op),
                                  "() is experimental and must be enabled with "
                                  "--enable-feature=promql-experimental-functions"));
        return nullptr;
      }
      want = 2;
      a->param = std::move(args[0]);
    }
    if (args.size() != want) {
      Fail(op.pos, Cat("wrong number of arguments for aggregate expression provided, "
                                "expected ",
                                want, ", got ", args.size()));
      return nullptr;
    }
    a->expr = std::move(args[want - 1]);
    if (!Track(*a)) return nullptr;
    return a;
  }

  // ----- postfix modifiers: [range], [range:step], offset, @, anchored, smoothed ---------

  ExprPtr ParsePostfix(ExprPtr e) {
    while (true) {
      switch (Peek().type) {
        case Tok::kLeftBracket:
          e = ParseRangeOrSubquery(std::move(e));
          break;
        case Tok::kOffset:
          e = ParseOffset(std::move(e));
          break;
        case Tok::kAt:
          e = ParseAt(std::move(e));
          break;
        case Tok::kAnchored:
        case Tok::kSmoothed:
          e = ParseExtended(std::move(e));
          break;
        default:
          return e;
      }
      if (!e) return nullptr;
      if (!Track(*e)) return nullptr;
    }
  }

  // A duration inside [...]: a literal if duration expressions are off, else duration_expr.
  // Returns the NumberLiteral or DurationExpr, checked to be positive if a literal.
  ExprPtr ParsePositiveDuration(std::string_view context, std::string_view expected) {
    const Token& t = Peek();
    if (!IsDurationStart(t.type)) {
      Unexpected(context, expected);
      return nullptr;
    }
    ExprPtr d = ParseDurExpr(0);
    if (!d) return nullptr;
    if (d->kind() == NodeKind::kNumberLiteral) {
      const double v = As<NumberLiteral>(*d).value;
      // Sub-millisecond ranges and steps would print as "0s"; reject them with the
      // upstream message for a zero duration so that printing round-trips.
      if (!(v > 0) || SecondsToMs(v) <= 0) {
        Fail(d->pos.start, "duration must be greater than 0");
        return nullptr;
      }
    }
    return d;
  }

  bool IsDurationStart(Tok t) const {
    if (t == Tok::kNumber || t == Tok::kDuration) return true;
    if (!opts_.duration_expressions || opts_.compat_2x) return false;
    if (t == Tok::kAdd || t == Tok::kSub || t == Tok::kLeftParen || t == Tok::kStep ||
        t == Tok::kRange) {
      return true;
    }
    return t == Tok::kIdentifier && IsMinMaxOf(Peek());
  }

  static bool IsMinMaxOf(const Token& t) {
    return t.type == Tok::kIdentifier && (t.text == "min_of" || t.text == "max_of");
  }

  // Literal number or duration token as a NumberLiteral of seconds.
  ExprPtr DurationLiteral() {
    const Token& t = Next();
    auto n = std::make_unique<NumberLiteral>();
    n->pos = {t.pos, last_end_};
    if (t.type == Tok::kNumber) {
      if (!NumberValue(t, &n->value)) return nullptr;
    } else {
      auto d = ParseDuration(t.text);
      if (!d.ok()) {
        Fail(t.pos, base::ToStd(d.status().message()));
        return nullptr;
      }
      n->value = static_cast<double>(*d) / 1000.0;
      n->duration = true;
    }
    if (DurationOutOfRange(n->value)) {
      Fail(t.pos, "duration out of range");
      return nullptr;
    }
    Track(*n);
    return n;
  }

  bool DurExprAllowed(int32_t pos) {
    if (!opts_.duration_expressions || opts_.compat_2x) {
      Fail(pos, "experimental duration expression is not enabled");
      return false;
    }
    return true;
  }

  ExprPtr ParseDurExpr(int min_prec) {
    DepthGuard g(this);
    if (!CheckRecursion()) return nullptr;
    ExprPtr lhs = ParseDurUnary();
    if (!lhs) return nullptr;
    while (true) {
      const Token& t = Peek();
      DurationOp op;
      int prec;
      switch (t.type) {
        case Tok::kAdd: op = DurationOp::kAdd, prec = kPrecAdd; break;
        case Tok::kSub: op = DurationOp::kSub, prec = kPrecAdd; break;
        case Tok::kMul: op = DurationOp::kMul, prec = kPrecMul; break;
        case Tok::kDiv: op = DurationOp::kDiv, prec = kPrecMul; break;
        case Tok::kMod: op = DurationOp::kMod, prec = kPrecMul; break;
        case Tok::kPow: op = DurationOp::kPow, prec = kPrecPow; break;
        default: return lhs;
      }
      if (prec < min_prec) return lhs;
      const Token& optok = Next();
      if (!DurExprAllowed(optok.pos)) return nullptr;
      ExprPtr rhs = ParseDurExpr(prec == kPrecPow ? prec : prec + 1);
      if (!rhs) return nullptr;
      if ((op == DurationOp::kDiv || op == DurationOp::kMod) &&
          rhs->kind() == NodeKind::kNumberLiteral && As<NumberLiteral>(*rhs).value == 0) {
        Fail(optok.pos, op == DurationOp::kDiv ? "division by zero" : "modulo by zero");
        return nullptr;
      }
      auto d = std::make_unique<DurationExpr>();
      d->op = op;
      d->pos = {lhs->pos.start, rhs->pos.end};
      d->lhs = std::move(lhs);
      d->rhs = std::move(rhs);
      if (!Track(*d)) return nullptr;
      lhs = std::move(d);
    }
  }

  ExprPtr ParseDurUnary() {
    const Token& t = Peek();
    if (t.type == Tok::kAdd || t.type == Tok::kSub) {
      const Token op = Next();
      ExprPtr e = ParseDurExpr(kPrecPow);
      if (!e) return nullptr;
      return ApplySign(op, std::move(e));
    }
    return ParseDurPrimary();
  }

  ExprPtr ApplySign(const Token& op, ExprPtr e) {
    if (e->kind() == NodeKind::kNumberLiteral) {
      auto& n = As<NumberLiteral>(*e);
      if (op.type == Tok::kSub) n.value = -n.value;
      n.pos.start = op.pos;
      return e;
    }
    if (op.type == Tok::kAdd) return e;
    auto d = std::make_unique<DurationExpr>();
    d->op = DurationOp::kNeg;
    d->pos = {op.pos, e->pos.end};
    d->rhs = std::move(e);
    if (!Track(*d)) return nullptr;
    return d;
  }

  ExprPtr ParseDurPrimary() {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kNumber:
      case Tok::kDuration:
        return DurationLiteral();
      case Tok::kStep:
      case Tok::kRange: {
        if (!DurExprAllowed(t.pos)) return nullptr;
        Next();
        if (!Expect(Tok::kLeftParen, "", "\"(\"")) return nullptr;
        if (!Expect(Tok::kRightParen, "", "\")\"")) return nullptr;
        auto d = std::make_unique<DurationExpr>();
        d->op = t.type == Tok::kStep ? DurationOp::kStep : DurationOp::kRange;
        d->pos = {t.pos, last_end_};
        Track(*d);
        return d;
      }
      case Tok::kLeftParen: {
        if (!DurExprAllowed(t.pos)) return nullptr;
        Next();
        ExprPtr e = ParseDurExpr(0);
        if (!e) return nullptr;
        if (!Expect(Tok::kRightParen, "", "\")\"")) return nullptr;
        if (e->kind() == NodeKind::kDuration) {
          As<DurationExpr>(*e).wrapped = true;
          e->pos = {t.pos, last_end_};
        }
        return e;
      }
      default:
        break;
    }
    if (IsMinMaxOf(t) && Peek(1).type == Tok::kLeftParen) {
      if (!DurExprAllowed(t.pos)) return nullptr;
      Next();
      Next();  // (
      auto d = std::make_unique<DurationExpr>();
      d->op = t.text == "min_of" ? DurationOp::kMin : DurationOp::kMax;
      d->lhs = ParseDurExpr(0);
      if (!d->lhs) return nullptr;
      if (!Expect(Tok::kComma, "", "\",\"")) return nullptr;
      d->rhs = ParseDurExpr(0);
      if (!d->rhs) return nullptr;
      if (!Expect(Tok::kRightParen, "", "\")\"")) return nullptr;
      d->pos = {t.pos, last_end_};
      if (!Track(*d)) return nullptr;
      return d;
    }
    Unexpected("duration expression", "number, duration, step(), or range()");
    return nullptr;
  }

  ExprPtr ParseRangeOrSubquery(ExprPtr e) {
    const Token& open = Next();  // [
    ExprPtr range = ParsePositiveDuration("subquery or range selector",
                                          "number, duration, step(), or range()");
    if (!range) return nullptr;
    const Token& t = Peek();
    if (t.type == Tok::kRightBracket) {
      Next();
      std::string_view err;
      if (e->kind() != NodeKind::kVectorSelector) {
        err = "ranges only allowed for vector selectors";
      } else if (As<VectorSelector>(*e).offset_ms != 0 || As<VectorSelector>(*e).offset_expr) {
        err = "no offset modifiers allowed before range";
      } else if (As<VectorSelector>(*e).at.kind != AtModifier::Kind::kNone) {
        err = "no @ modifiers allowed before range";
      }
      if (!err.empty()) {
        Fail(open.pos, err);
        return nullptr;
      }
      auto m = std::make_unique<MatrixSelector>();
      m->pos = {e->pos.start, last_end_};
      m->vector_selector = std::move(e);
      SetDuration(std::move(range), &m->range_ms, &m->range_expr);
      return m;
    }
    if (t.type != Tok::kColon) {
      Unexpected("subquery or range", "\":\" or \"]\"");
      return nullptr;
    }
    Next();
    auto s = std::make_unique<SubqueryExpr>();
    SetDuration(std::move(range), &s->range_ms, &s->range_expr);
    if (Peek().type != Tok::kRightBracket) {
      ExprPtr step = ParsePositiveDuration("subquery selector",
                                           "number, duration, step(), range(), or \"]\"");
      if (!step) return nullptr;
      SetDuration(std::move(step), &s->step_ms, &s->step_expr);
      if (Peek().type != Tok::kRightBracket) {
        Unexpected("subquery selector", "\"]\"");
        return nullptr;
      }
    }
    Next();  // ]
    s->pos = {e->pos.start, last_end_};
    s->expr = std::move(e);
    return s;
  }

  // Stores a parsed duration as a literal millisecond value or keeps the expression.
  static void SetDuration(ExprPtr d, int64_t* ms, ExprPtr* expr) {
    if (d->kind() == NodeKind::kNumberLiteral) {
      *ms = SecondsToMs(As<NumberLiteral>(*d).value);
    } else {
      *expr = std::move(d);
    }
  }

  // offset_duration_expr: [+-] (literal | step() | range() | min_of/max_of(..) | (expr)).
  // Binary operators after it belong to the enclosing expression (`x offset 1 + 2`).
  ExprPtr ParseOffsetDuration() {
    std::optional<Token> sign;
    if (Peek().type == Tok::kAdd || Peek().type == Tok::kSub) sign = Next();
    const Token& t = Peek();
    const bool ok = t.type == Tok::kNumber || t.type == Tok::kDuration ||
                    (opts_.duration_expressions && !opts_.compat_2x &&
                     (t.type == Tok::kStep || t.type == Tok::kRange ||
                      t.type == Tok::kLeftParen ||
                      (IsMinMaxOf(t) && Peek(1).type == Tok::kLeftParen)));
    if (!ok) {
      Unexpected("offset", opts_.compat_2x ? "duration" : "number, duration, step(), or range()");
      return nullptr;
    }
    ExprPtr d = ParseDurPrimary();
    if (!d) return nullptr;
    if (sign) d = ApplySign(*sign, std::move(d));
    if (d && d->kind() == NodeKind::kNumberLiteral &&
        (DurationOutOfRange(As<NumberLiteral>(*d).value) ||
         std::isnan(As<NumberLiteral>(*d).value))) {
      Fail(d->pos.start, "duration out of range");
      return nullptr;
    }
    return d;
  }

  ExprPtr ParseOffset(ExprPtr e) {
    Next();  // offset
    ExprPtr d = ParseOffsetDuration();
    if (!d) return nullptr;
    int64_t* ms = nullptr;
    ExprPtr* expr = nullptr;
    int32_t* end = &e->pos.end;
    switch (e->kind()) {
      case NodeKind::kVectorSelector:
        ms = &As<VectorSelector>(*e).offset_ms;
        expr = &As<VectorSelector>(*e).offset_expr;
        break;
      case NodeKind::kMatrixSelector: {
        auto& vs = As<VectorSelector>(*As<MatrixSelector>(*e).vector_selector);
        ms = &vs.offset_ms;
        expr = &vs.offset_expr;
        break;
      }
      case NodeKind::kSubquery:
        ms = &As<SubqueryExpr>(*e).offset_ms;
        expr = &As<SubqueryExpr>(*e).offset_expr;
        break;
      default:
        Fail(e->pos.start,
             "offset modifier must be preceded by an instant vector selector or range vector "
             "selector or a subquery");
        return nullptr;
    }
    if (*ms != 0 || *expr) {
      Fail(e->pos.start, "offset may not be set multiple times");
      return nullptr;
    }
    SetDuration(std::move(d), ms, expr);
    *end = last_end_;
    return e;
  }

  AtModifier* AtTarget(Expr& e) {
    AtModifier* at = nullptr;
    switch (e.kind()) {
      case NodeKind::kVectorSelector: at = &As<VectorSelector>(e).at; break;
      case NodeKind::kMatrixSelector:
        at = &As<VectorSelector>(*As<MatrixSelector>(e).vector_selector).at;
        break;
      case NodeKind::kSubquery: at = &As<SubqueryExpr>(e).at; break;
      default:
        Fail(e.pos.start,
             "@ modifier must be preceded by an instant vector selector or range vector "
             "selector or a subquery");
        return nullptr;
    }
    if (at->kind != AtModifier::Kind::kNone) {
      Fail(e.pos.start, "@ <timestamp> may not be set multiple times");
      return nullptr;
    }
    return at;
  }

  ExprPtr ParseAt(ExprPtr e) {
    Next();  // @
    const Token& t = Peek();
    if ((t.type == Tok::kStart || t.type == Tok::kEnd) && Peek(1).type == Tok::kLeftParen) {
      Next();
      Next();
      if (!Expect(Tok::kRightParen, "@", "\")\"")) return nullptr;
      AtModifier* at = AtTarget(*e);
      if (!at) return nullptr;
      at->kind = t.type == Tok::kStart ? AtModifier::Kind::kStart : AtModifier::Kind::kEnd;
      e->pos.end = last_end_;
      return e;
    }
    const Tok k = t.type;
    if (k != Tok::kNumber && k != Tok::kDuration &&
        !((k == Tok::kAdd || k == Tok::kSub) &&
          (Peek(1).type == Tok::kNumber || Peek(1).type == Tok::kDuration))) {
      Unexpected("@", "timestamp");
      return nullptr;
    }
    double ts = 0;
    if (!ParseSignedNumber(&ts, "@", "timestamp")) return nullptr;
    // Upstream accepts |ts| < 2^63 seconds; beyond 1e12 s (year 33658) a timestamp no longer
    // survives printing with millisecond precision, so the bound here is tighter.
    if (!(std::fabs(ts) <= 1e12)) {
      Fail(e->pos.start,
           Cat("timestamp out of bounds for @ modifier: ", GoPercentF(ts)));
      return nullptr;
    }
    AtModifier* at = AtTarget(*e);
    if (!at) return nullptr;
    at->kind = AtModifier::Kind::kTimestamp;
    at->timestamp_ms = static_cast<int64_t>(std::round(ts * 1000.0));
    e->pos.end = last_end_;
    return e;
  }

  ExprPtr ParseExtended(ExprPtr e) {
    const Token& t = Next();
    const bool anchored = t.type == Tok::kAnchored;
    const std::string_view name = anchored ? "anchored" : "smoothed";
    if (!opts_.extended_range_selectors) {
      Fail(e->pos.start, Cat(name, " modifier is experimental and not enabled"));
      return nullptr;
    }
    VectorSelector* vs = nullptr;
    switch (e->kind()) {
      case NodeKind::kVectorSelector: vs = &As<VectorSelector>(*e); break;
      case NodeKind::kMatrixSelector:
        vs = &As<VectorSelector>(*As<MatrixSelector>(*e).vector_selector);
        break;
      case NodeKind::kSubquery:
        Fail(e->pos.start, Cat(name, " modifier is not supported for subqueries"));
        return nullptr;
      default:
        Fail(e->pos.start, Cat(name, " modifier not implemented"));
        return nullptr;
    }
    if (anchored) {
      vs->anchored = true;
    } else {
      vs->smoothed = true;
    }
    if (vs->anchored && vs->smoothed) {
      Fail(e->pos.start, "anchored and smoothed modifiers cannot be used together");
      return nullptr;
    }
    e->pos.end = last_end_;
    return e;
  }

  // ----- type check (upstream checkAST) --------------------------------------------------

  ValueType Check(Expr& node) {
    if (Failed()) return ValueType::kNone;
    const ValueType typ = node.type();
    switch (node.kind()) {
      case NodeKind::kAggregate: {
        auto& n = As<AggregateExpr>(node);
        ExpectType(*n.expr, ValueType::kVector, "aggregation expression");
        switch (n.op) {
          case AggregateOp::kTopk:
          case AggregateOp::kBottomk:
          case AggregateOp::kQuantile:
          case AggregateOp::kLimitk:
          case AggregateOp::kLimitRatio:
            ExpectType(*n.param, ValueType::kScalar, "aggregation parameter");
            break;
          case AggregateOp::kCountValues:
            ExpectType(*n.param, ValueType::kString, "aggregation parameter");
            break;
          default:
            break;
        }
        break;
      }
      case NodeKind::kBinary:
        CheckBinary(As<BinaryExpr>(node));
        break;
      case NodeKind::kCall:
        CheckCall(As<Call>(node));
        break;
      case NodeKind::kParen:
        Check(*As<ParenExpr>(node).expr);
        break;
      case NodeKind::kUnary: {
        const ValueType t = Check(*As<UnaryExpr>(node).expr);
        if (t != ValueType::kScalar && t != ValueType::kVector) {
          Fail(node.pos.start, Cat("unary expression only allowed on expressions of "
                                            "type scalar or instant vector, got \"",
                                            DocumentedType(t), "\""));
        }
        break;
      }
      case NodeKind::kSubquery: {
        const ValueType t = Check(*As<SubqueryExpr>(node).expr);
        if (t != ValueType::kVector) {
          static constexpr std::string_view kGoNames[] = {"none", "scalar", "vector", "matrix",
                                                          "string"};
          Fail(node.pos.start, Cat("subquery is only allowed on instant vector, got ",
                                            kGoNames[static_cast<int>(t)], " instead"));
        }
        break;
      }
      case NodeKind::kMatrixSelector:
        Check(*As<MatrixSelector>(node).vector_selector);
        break;
      case NodeKind::kVectorSelector:
        CheckVectorSelector(As<VectorSelector>(node));
        break;
      case NodeKind::kNumberLiteral:
      case NodeKind::kStringLiteral:
      case NodeKind::kDuration:
        break;
    }
    return typ;
  }

  void ExpectType(Expr& e, ValueType want, std::string_view context) {
    const ValueType t = Check(e);
    if (!Failed() && t != want) {
      Fail(e.pos.start, Cat("expected type ", DocumentedType(want), " in ",
                                     context, ", got ", DocumentedType(t)));
    }
  }

  // Start of the operator between lhs and rhs, for upstream's opRange().
  int32_t OpPos(const BinaryExpr& n) const {
    int32_t p = n.lhs->pos.end;
    while (p < static_cast<int32_t>(in_.size()) &&
           (in_[p] == ' ' || in_[p] == '\t' || in_[p] == '\n' || in_[p] == '\r')) {
      ++p;
    }
    return p;
  }

  void CheckBinary(BinaryExpr& n) {
    const ValueType lt = Check(*n.lhs);
    const ValueType rt = Check(*n.rhs);
    if (Failed()) return;
    const bool cmp = IsComparisonOp(n.op);
    const bool set = IsSetOp(n.op);
    if (n.return_bool && !cmp) {
      Fail(OpPos(n), "bool modifier can only be used on comparison operators");
      return;
    }
    if (cmp && !n.return_bool && lt == ValueType::kScalar && rt == ValueType::kScalar) {
      Fail(OpPos(n), "comparisons between scalars must use BOOL modifier");
      return;
    }
    VectorMatching& m = *n.matching;
    if (set && m.card == Cardinality::kOneToOne) m.card = Cardinality::kManyToMany;
    if (m.on) {
      for (const auto& l1 : m.matching_labels) {
        for (const auto& l2 : m.include) {
          if (l1 == l2) {
            Fail(OpPos(n), Cat("label ", model::QuoteGo(l1),
                                        " must not occur in ON and GROUP clause at once"));
            return;
          }
        }
      }
    }
    if (lt != ValueType::kScalar && lt != ValueType::kVector) {
      Fail(n.lhs->pos.start, "binary expression must contain only scalar and instant vector types");
      return;
    }
    if (rt != ValueType::kScalar && rt != ValueType::kVector) {
      Fail(n.rhs->pos.start, "binary expression must contain only scalar and instant vector types");
      return;
    }
    if (lt != ValueType::kVector || rt != ValueType::kVector) {
      if (!m.matching_labels.empty()) {
        Fail(n.pos.start, "vector matching only allowed between instant vectors");
        return;
      }
      if (m.fill_lhs || m.fill_rhs) {
        Fail(n.pos.start, "filling in missing series only allowed between instant vectors");
        return;
      }
      n.matching.reset();
    } else if (set) {
      if (m.card == Cardinality::kOneToMany || m.card == Cardinality::kManyToOne) {
        Fail(n.pos.start, Cat("no grouping allowed for \"", BinaryOpString(n.op),
                                       "\" operation"));
        return;
      }
      if (m.fill_lhs || m.fill_rhs) {
        Fail(n.pos.start, "filling in missing series not allowed for set operators");
        return;
      }
    }
    if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && set) {
      Fail(n.pos.start, Cat("set operator \"", BinaryOpString(n.op),
                                     "\" not allowed in binary scalar expression"));
    }
  }

  void CheckCall(Call& n) {
    const Function& f = *n.func;
    const int nargs = static_cast<int>(f.arg_types.size());
    const int got = static_cast<int>(n.args.size());
    const std::string fname = model::QuoteGo(f.name);
    if (f.variadic == 0) {
      if (nargs != got) {
        Fail(n.pos.start, Cat("expected ", nargs, " argument(s) in call to ", fname,
                                       ", got ", got));
        return;
      }
    } else {
      const int na = nargs - 1;
      if (na > got) {
        Fail(n.pos.start, Cat("expected at least ", na, " argument(s) in call to ",
                                       fname, ", got ", got));
        return;
      }
      if (f.variadic > 0 && na + f.variadic < got) {
        Fail(n.pos.start, Cat("expected at most ", na + f.variadic,
                                       " argument(s) in call to ", fname, ", got ", got));
        return;
      }
    }
    if (f.name == "info" && got > 1) {
      Expr& arg = *n.args[1];
      if (arg.type() != ValueType::kVector) {
        Fail(n.pos.start, Cat("expected type instant vector in call to function ",
                                       fname, ", got ", DocumentedType(arg.type())));
        return;
      }
      if (arg.kind() == NodeKind::kVectorSelector) {
        auto& vs = As<VectorSelector>(arg);
        if (!vs.name.empty()) {
          Fail(arg.pos.start, "expected label selectors only, got vector selector instead");
          return;
        }
        vs.bypass_empty_matcher_check = true;
      } else {
        Fail(arg.pos.start, "expected label selectors only");
        return;
      }
    }
    for (int i = 0; i < got; ++i) {
      int ti = i;
      if (i >= nargs) {
        if (f.variadic == 0) break;
        ti = nargs - 1;
      }
      const ValueType t = Check(*n.args[i]);
      if (Failed()) return;
      if (t != f.arg_types[ti]) {
        Fail(n.args[i]->pos.start,
             Cat("expected type ", DocumentedType(f.arg_types[ti]),
                          " in call to function ", fname, ", got ", DocumentedType(t)));
        return;
      }
    }
  }

  void CheckVectorSelector(VectorSelector& n) {
    if (!n.name.empty()) {
      for (size_t i = 0; i + 1 < n.matchers.size(); ++i) {
        if (n.matchers[i].name() == model::kMetricName) {
          Fail(n.pos.start, Cat("metric name must not be set twice: ",
                                         model::QuoteGo(n.name), " or ",
                                         model::QuoteGo(n.matchers[i].value())));
          return;
        }
      }
      return;
    }
    if (n.bypass_empty_matcher_check) return;
    for (const auto& m : n.matchers) {
      if (!m.Matches("")) return;
    }
    Fail(n.pos.start, "vector selector must contain at least one non-empty matcher");
  }

  std::string_view in_;
  ParseOptions opts_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  int32_t last_end_ = 0;
  int recursion_ = 0;
  absl::flat_hash_map<const Expr*, int> depth_;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<std::vector<model::Matcher>> ParseMetricSelector(std::string_view input,
                                                                const ParseOptions& opts) {
  if (input.size() > opts.max_input_bytes) {
    return absl::InvalidArgumentError(
        Cat("1:1: parse error: query of ", input.size(), " bytes exceeds the limit of ",
            opts.max_input_bytes, " bytes"));
  }
  return Parser(input, opts).RunSelector();
}

absl::StatusOr<ExprPtr> ParseExpr(std::string_view input, const ParseOptions& opts) {
  if (input.size() > opts.max_input_bytes) {
    return absl::InvalidArgumentError(
        Cat("1:1: parse error: query of ", input.size(),
                     " bytes exceeds the limit of ", opts.max_input_bytes, " bytes"));
  }
  return Parser(input, opts).Run();
}

}  // namespace strata::promql::parser
