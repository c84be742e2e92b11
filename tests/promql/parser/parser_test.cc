// Table tests for the PromQL parser and printer. Expected texts and error messages are
// ported from upstream's promql/parser/parse_test.go and printer_test.go (Prometheus 3.x;
// parse_test.go positions are byte offsets, shown here as 1-based "line:col").
#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/model/sample.h"
#include "strata/promql/parser/ast.h"
#include "strata/promql/parser/functions.h"
#include "strata/promql/parser/parser.h"
#include "strata/promql/parser/printer.h"

namespace strata::promql::parser {
namespace {

using ::testing::HasSubstr;

// Print(Parse(q)), or the error message.
std::string Roundtrip(std::string_view q, const ParseOptions& opts = {}) {
  auto e = ParseExpr(q, opts);
  if (!e.ok()) return std::string(e.status().message());
  return Print(**e);
}

std::string ErrorOf(std::string_view q, const ParseOptions& opts = {}) {
  auto e = ParseExpr(q, opts);
  if (e.ok()) return "<parsed: " + Print(**e) + ">";
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(e.status().message());
}

ExprPtr MustParse(std::string_view q, const ParseOptions& opts = {}) {
  auto e = ParseExpr(q, opts);
  EXPECT_TRUE(e.ok()) << q << ": " << e.status();
  return e.ok() ? std::move(*e) : nullptr;
}

struct PrintCase {
  const char* in;
  const char* out;
};

// printer_test.go cases, with output as the current printer.go writes it.
TEST(PrinterTest, MatchesUpstreamCanonicalForm) {
  const PrintCase cases[] = {
      {R"(sum by() (task:errors:rate10s{job="s"}))", R"(sum(task:errors:rate10s{job="s"}))"},
      {R"(sum by(code) (task:errors:rate10s{job="s"}))",
       R"(sum by (code) (task:errors:rate10s{job="s"}))"},
      {R"(sum without() (task:errors:rate10s{job="s"}))",
       R"(sum without () (task:errors:rate10s{job="s"}))"},
      {R"(sum without(instance) (task:errors:rate10s{job="s"}))",
       R"(sum without (instance) (task:errors:rate10s{job="s"}))"},
      {R"(topk(5, task:errors:rate10s{job="s"}))", R"(topk(5, task:errors:rate10s{job="s"}))"},
      {R"(count_values("value", task:errors:rate10s{job="s"}))",
       R"(count_values("value", task:errors:rate10s{job="s"}))"},
      {"sum(x) by (a)", "sum by (a) (x)"},
      {"a - on() c", "a - on () c"},
      {"a - on(b) c", "a - on (b) c"},
      {"a - on(b) group_left(x) c", "a - on (b) group_left (x) c"},
      {"a - on(b) group_left(x, y) c", "a - on (b) group_left (x, y) c"},
      {"a - on(b) group_left c", "a - on (b) group_left () c"},
      {"a - on(b) group_left() (c)", "a - on (b) group_left () (c)"},
      {"a - ignoring(b) c", "a - ignoring (b) c"},
      {"a - ignoring() c", "a - c"},
      {"a - ignoring() group_left c", "a - ignoring () group_left () c"},
      {"up > bool 0", "up > bool 0"},
      {"a offset 1m", "a offset 1m"},
      {"a offset -7m", "a offset -7m"},
      {R"(a{c="d"}[5m] offset 1m)", R"(a{c="d"}[5m] offset 1m)"},
      {"a[5m] offset 1m", "a[5m] offset 1m"},
      {"a[12m] offset -3m", "a[12m] offset -3m"},
      {"a[1h:5m] offset 1m", "a[1h:5m] offset 1m"},
      {R"({__name__="a"})", R"({__name__="a"})"},
      {"a @ 10", "a @ 10.000"},
      {"a[1m] @ 10", "a[1m] @ 10.000"},
      {"a @ start()", "a @ start()"},
      {"a @ end()", "a @ end()"},
      {"a[1m] @ start()", "a[1m] @ start()"},
      {"a[1m] @ end()", "a[1m] @ end()"},
      {"a @ -1.5", "a @ -1.500"},
      {"a offset 1m @ 10", "a @ 10.000 offset 1m"},
      {R"(foo{c="d", a="b"})", R"(foo{a="b",c="d"})"},
      // 3.x quoted UTF-8 names.
      {R"({"my.metric", "a.b"="x"})", R"({"a.b"="x",__name__="my.metric"})"},
      {R"(sum by ("a.b", c) (x))", R"(sum by ("a.b", c) (x))"},
      {R"(x / on("a.b") y)", R"(x / on ("a.b") y)"},
      // Durations print as model.Duration.
      {"foo[1h30m]", "foo[1h30m]"},
      {"foo[90m]", "foo[1h30m]"},
      {"foo[7d]", "foo[1w]"},
      {"foo[1800]", "foo[30m]"},
      {"foo[1m:]", "foo[1m:]"},
      {"foo offset 50", "foo offset 50s"},
      {"foo offset -106751d23h47m16s853ms", "foo offset -106751d23h47m16s853ms"},
      {"foo offset 1.0005", "foo offset 1s"},
      {"5m", "5m"},
      {"-5m", "-5m"},
      // Duration expressions keep their shape.
      {"foo[5m+1s:step()]", "foo[5m + 1s:step()]"},
      {"foo[(9m30s+30s)*3]", "foo[(9m30s + 30s) * 3]"},
      {"foo[min_of(step()+1,1h)]", "foo[min_of(step() + 1, 1h)]"},
      {"metric1_total offset -step()*2", "metric1_total offset -step() * 2"},
      {"metric1_total offset (100 + 2)", "metric1_total offset (100 + 2)"},
      {"metric1_total offset -(min_of(step(), 2s)-5)+8000",
       "metric1_total offset -(min_of(step(), 2s) - 5) + 8000"},
      // Extended range selectors and fill modifiers.
      {"increase(metric[1m] anchored)", "increase(metric[1m] anchored)"},
      {"rate(metric[1m] smoothed @ 5 offset 1m)", "rate(metric[1m] smoothed @ 5.000 offset 1m)"},
      {"left_vector + fill(0) right_vector", "left_vector + fill (0) right_vector"},
      {"a + fill_left(5) fill_right(7) b", "a + fill_left (5) fill_right (7) b"},
      {"a * on(x) group_right fill(-Inf) b", "a * on (x) group_right () fill (-Inf) b"},
      {"other + fill(0) fill", "other + fill (0) fill"},
      {"h </ 0.5", "h </ 0.5"},
      // Literals.
      {"0x1F", "31"},
      {"1e3", "1000"},
      {"Inf", "+Inf"},
      {"-inf", "-Inf"},
      {"nAn", "NaN"},
      {"010", "8"},
      {"089", "89"},
      {".5", "0.5"},
      {"1_000", "1000"},
      {R"("a\nb\x41\u00e9")", R"("a\nbAé")"},
      {R"('it\'s "q"')", R"("it's \"q\"")"},
      {R"(`a\b`)", R"("a\\b")"},
      // Operators and precedence.
      {"1 + 2 * 3", "1 + 2 * 3"},
      {"(1 + 2) * 3", "(1 + 2) * 3"},
      {"-2 ^ 2", "-2 ^ 2"},
      {"---foo", "---foo"},
      {"foo atan2 bar", "foo atan2 bar"},
      {"foo # comment\n + bar", "foo + bar"},
      {"SUM BY (group) (x)", "sum by (group) (x)"},
      {"sum(x) WITHOUT (a)", "sum without (a) (x)"},
      {"label_join(x, \"d\", \",\", \"a\", \"b\", \"c\")",
       "label_join(x, \"d\", \",\", \"a\", \"b\", \"c\")"},
      {"offset{step=\"1s\"}[5m]", "offset{step=\"1s\"}[5m]"},
      {"foo * sum", "foo * sum"},
      {"foo{}", "foo"},
      {"info(foo, {})", "info(foo, {})"},
      {"a + fill_left(-0) fill_right(0) b", "a + fill_left (-0) fill_right (0) b"},
      {"-0m", "-0s"},
      {"106751d * 1", "106751d * 1"},
      {R"(sum by ("inf", nan_x) (x))", R"(sum by ("inf", nan_x) (x))"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Roundtrip(c.in), c.out) << "input: " << c.in;
    // The canonical form is a fixed point.
    EXPECT_EQ(Roundtrip(c.out), c.out) << "input: " << c.out;
  }
}

struct ErrorCase {
  const char* in;
  const char* err;
};

TEST(ParserErrorTest, MatchesUpstreamMessages) {
  const ErrorCase cases[] = {
      {"", "1:1: parse error: no expression found in input"},
      {"1+", "1:3: parse error: unexpected end of input"},
      {"1 /", "1:4: parse error: unexpected end of input"},
      {"*1", "1:1: parse error: unexpected <op:*>"},
      {"(1))", "1:5: parse error: unexpected right parenthesis ')'"},
      {"((1)", "1:5: parse error: unclosed left parenthesis"},
      {"(", "1:2: parse error: unclosed left parenthesis"},
      {"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
      {"1 or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
      {"1 unless 1",
       "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression"},
      {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
      {"1 !~ 1", "1:3: parse error: unexpected character after '!': '~'"},
      {"1 =~ 1", "1:3: parse error: unexpected character after '=': '~'"},
      {"-\"string\"",
       "1:1: parse error: unary expression only allowed on expressions of type scalar or "
       "instant vector, got \"string\""},
      {"-test[5m]",
       "1:1: parse error: unary expression only allowed on expressions of type scalar or "
       "instant vector, got \"range vector\""},
      {"*test", "1:1: parse error: unexpected <op:*>"},
      {"@@", "1:1: parse error: unexpected <op:@>"},
      {"1 offset 1d",
       "1:1: parse error: offset modifier must be preceded by an instant vector selector or "
       "range vector selector or a subquery"},
      {"foo offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times"},
      {"a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>"},
      {"0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\""},
      {"100..4", "1:1: parse error: bad number or duration syntax: \"100..\""},
      {"2.5.", "1:1: parse error: bad number or duration syntax: \"2.5.\""},
      {"{x=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{x=~\".*\"}",
       "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{x!~\".+\"}",
       "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{x!=\"a\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"foo{__name__=\"bar\"}",
       "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
      {"foo{a=\"b\" c=\"d\"}",
       "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""},
      {"foo{a}", "1:6: parse error: unexpected \"}\" in label matching, expected label matching "
                 "operator"},
      {"foo{a=b}", "1:7: parse error: unexpected identifier \"b\" in label matching, expected string"},
      {"foo{a>\"b\"}", "1:6: parse error: unexpected character inside braces: '>'"},
      {"rate(foo)",
       "1:6: parse error: expected type range vector in call to function \"rate\", got instant "
       "vector"},
      {"sum(foo[5m])",
       "1:5: parse error: expected type instant vector in aggregation expression, got range "
       "vector"},
      {"topk(foo, bar)",
       "1:6: parse error: expected type scalar in aggregation parameter, got instant vector"},
      {"count_values(5, foo)",
       "1:14: parse error: expected type string in aggregation parameter, got scalar"},
      {"foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators"},
      {"foo and on(a) group_left(b) bar",
       "1:1: parse error: no grouping allowed for \"and\" operation"},
      {"1 or on(bar) 1", "1:1: parse error: vector matching only allowed between instant vectors"},
      {"foo + on(a) group_left(a) bar",
       "1:5: parse error: label \"a\" must not occur in ON and GROUP clause at once"},
      {"unknown_fn(foo)", "1:1: parse error: unknown function with name \"unknown_fn\""},
      {"rate(foo[5m],)", "1:13: parse error: trailing commas not allowed in function call args"},
      {"round(x, 1, 2)", "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"},
      {"label_join(x)",
       "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1"},
      {"time(1)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
      {"sum(a, b)",
       "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, "
       "got 2"},
      {"topk(a)",
       "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, "
       "got 1"},
      {"sum()", "1:1: parse error: no arguments for aggregate expression provided"},
      {"sum by (a) foo", "1:12: parse error: unexpected identifier \"foo\" in aggregation"},
      {"sum by a (foo)",
       "1:8: parse error: unexpected identifier \"a\" in grouping opts, expected \"(\""},
      {"sum by (a b) (foo)",
       "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""},
      {"foo[5m] offset 1m[10m]", "1:18: parse error: ranges only allowed for vector selectors"},
      {"foo offset 1m [5m]", "1:15: parse error: no offset modifiers allowed before range"},
      {"foo @ 1 [5m]", "1:9: parse error: no @ modifiers allowed before range"},
      {"(foo)[5m]", "1:6: parse error: ranges only allowed for vector selectors"},
      {"foo[5m][5m:]", "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
      {"foo[0s]", "1:5: parse error: duration must be greater than 0"},
      {"foo[5m:0s]", "1:8: parse error: duration must be greater than 0"},
      {"foo[5m", "1:7: parse error: unclosed left bracket"},
      {"foo[5m x]",
       "1:8: parse error: unexpected identifier \"x\" in subquery or range, expected \":\" or \"]\""},
      {"foo[]",
       "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, "
       "duration, step(), or range()"},
      {"foo[1.5h]", "1:5: parse error: not a valid duration string: \"1.5h\""},
      {"foo[5m3h]", "1:5: parse error: not a valid duration string: \"5m3h\""},
      {"106752d", "1:1: parse error: duration out of range"},
      {"foo[5m/0]", "1:7: parse error: division by zero"},
      {"foo[5m%0]", "1:7: parse error: modulo by zero"},
      {"foo[5m] anchored smoothed",
       "1:1: parse error: anchored and smoothed modifiers cannot be used together"},
      {"foo[5m:] anchored", "1:1: parse error: anchored modifier is not supported for subqueries"},
      {"sum(foo) smoothed", "1:1: parse error: smoothed modifier not implemented"},
      {"foo @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
      {"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
      {"foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
      {"sum(foo) @ 1",
       "1:1: parse error: @ modifier must be preceded by an instant vector selector or range "
       "vector selector or a subquery"},
      {"foo offset bar",
       "1:12: parse error: unexpected identifier \"bar\" in offset, expected number, duration, "
       "step(), or range()"},
      {"info(foo, bar)",
       "1:11: parse error: expected label selectors only, got vector selector instead"},
      {"info(foo, sum(bar))", "1:11: parse error: expected label selectors only"},
      {"\"abc", "1:1: parse error: unterminated quoted string"},
      {"`abc", "1:1: parse error: unterminated raw string"},
      {"\"\\q\"", "1:1: parse error: unknown escape sequence 'q'"},
      {"\"\\xZZ\"", "1:1: parse error: illegal character 'Z' in escape sequence"},
      {"\"\\ud800\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
      {"foo{a=~\"(\"}", "1:5: parse error: "},  // prefix only: the regex message is RE2's
      {"1 1", "1:3: parse error: unexpected number \"1\""},
      {"1 \"a very long string\"", "1:3: parse error: unexpected string \"\\\"a very lo\"..."},
      {"foo }", "1:5: parse error: unexpected right brace '}'"},
      {"foo ]", "1:5: parse error: unexpected right bracket ']'"},
      {"foo:bar:baz ; 1", "1:13: parse error: unexpected character: ';'"},
      {"1 +\n  *", "2:3: parse error: unexpected <op:*>"},
  };
  for (const auto& c : cases) {
    const std::string got = ErrorOf(c.in);
    if (std::string_view(c.err).ends_with("parse error: ")) {
      EXPECT_THAT(got, ::testing::StartsWith(c.err)) << "input: " << c.in;
    } else {
      EXPECT_EQ(got, c.err) << "input: " << c.in;
    }
  }
}

TEST(ParserErrorTest, NumberOutOfRange) {
  const std::string nines(310, '9');
  EXPECT_EQ(ErrorOf(nines), "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"" +
                                nines + "\": value out of range");
}

TEST(ParserAstTest, PrecedenceAndAssociativity) {
  // foo + bar or bla and blub == (foo + bar) or (bla and blub).
  auto e = MustParse("foo + bar or bla and blub");
  ASSERT_EQ(e->kind(), NodeKind::kBinary);
  const auto& root = As<BinaryExpr>(*e);
  EXPECT_EQ(root.op, BinaryOp::kOr);
  ASSERT_TRUE(root.matching.has_value());
  EXPECT_EQ(root.matching->card, Cardinality::kManyToMany);
  EXPECT_EQ(As<BinaryExpr>(*root.lhs).op, BinaryOp::kAdd);
  EXPECT_EQ(As<BinaryExpr>(*root.lhs).matching->card, Cardinality::kOneToOne);
  EXPECT_EQ(As<BinaryExpr>(*root.rhs).op, BinaryOp::kAnd);

  // ^ is right-associative.
  e = MustParse("2 ^ 3 ^ 2");
  EXPECT_EQ(As<BinaryExpr>(*e).lhs->kind(), NodeKind::kNumberLiteral);
  EXPECT_EQ(As<BinaryExpr>(*e).rhs->kind(), NodeKind::kBinary);

  // Unary minus binds like *: -a ^ b is -(a ^ b); -1 * b folds the literal.
  e = MustParse("-2 ^ 2");
  ASSERT_EQ(e->kind(), NodeKind::kUnary);
  EXPECT_TRUE(As<UnaryExpr>(*e).negate);
  EXPECT_EQ(As<UnaryExpr>(*e).expr->kind(), NodeKind::kBinary);
  e = MustParse("-1 * foo");
  ASSERT_EQ(e->kind(), NodeKind::kBinary);
  EXPECT_EQ(As<NumberLiteral>(*As<BinaryExpr>(*e).lhs).value, -1);

  // Scalar operands drop the vector matching, as upstream sets it to nil.
  e = MustParse("foo * 2");
  EXPECT_FALSE(As<BinaryExpr>(*e).matching.has_value());

  e = MustParse("bar + on(foo) bla / on(baz, buz) group_right(test) blub");
  const auto& add = As<BinaryExpr>(*e);
  EXPECT_EQ(add.op, BinaryOp::kAdd);
  EXPECT_TRUE(add.matching->on);
  EXPECT_EQ(add.matching->matching_labels, std::vector<std::string>{"foo"});
  const auto& div = As<BinaryExpr>(*add.rhs);
  EXPECT_EQ(div.op, BinaryOp::kDiv);
  EXPECT_EQ(div.matching->card, Cardinality::kOneToMany);
  EXPECT_EQ(div.matching->matching_labels, (std::vector<std::string>{"baz", "buz"}));
  EXPECT_EQ(div.matching->include, std::vector<std::string>{"test"});
}

TEST(ParserAstTest, SelectorsAndModifiers) {
  auto e = MustParse(R"(foo{a="b", c=~"d.*"} offset 5m)");
  ASSERT_EQ(e->kind(), NodeKind::kVectorSelector);
  const auto& vs = As<VectorSelector>(*e);
  EXPECT_EQ(vs.name, "foo");
  ASSERT_EQ(vs.matchers.size(), 3u);  // a, c, then __name__ as upstream appends it
  EXPECT_EQ(vs.matchers[2].name(), "__name__");
  EXPECT_EQ(vs.matchers[1].type(), model::MatchType::kRegexMatch);
  EXPECT_EQ(vs.offset_ms, 300000);
  EXPECT_EQ(vs.pos.start, 0);
  EXPECT_EQ(vs.pos.end, 30);

  e = MustParse("foo @ 1.5");
  EXPECT_EQ(As<VectorSelector>(*e).at.kind, AtModifier::Kind::kTimestamp);
  EXPECT_EQ(As<VectorSelector>(*e).at.timestamp_ms, 1500);
  e = MustParse("foo @ -1");
  EXPECT_EQ(As<VectorSelector>(*e).at.timestamp_ms, -1000);
  e = MustParse("foo @ 1m40s");
  EXPECT_EQ(As<VectorSelector>(*e).at.timestamp_ms, 100000);

  e = MustParse("rate(foo[5m] @ end() offset -1m)");
  const auto& call = As<Call>(*e);
  EXPECT_EQ(call.func->name, "rate");
  ASSERT_EQ(call.args[0]->kind(), NodeKind::kMatrixSelector);
  const auto& ms = As<MatrixSelector>(*call.args[0]);
  EXPECT_EQ(ms.range_ms, 300000);
  EXPECT_EQ(ms.selector().at.kind, AtModifier::Kind::kEnd);
  EXPECT_EQ(ms.selector().offset_ms, -60000);

  e = MustParse("sum_over_time(rate(foo[1m])[10m:30s] offset 1m)");
  const auto& sq = As<SubqueryExpr>(*As<Call>(*e).args[0]);
  EXPECT_EQ(sq.range_ms, 600000);
  EXPECT_EQ(sq.step_ms, 30000);
  EXPECT_EQ(sq.offset_ms, 60000);
  e = MustParse("foo[10m:]");
  EXPECT_EQ(As<SubqueryExpr>(*e).step_ms, 0);
  EXPECT_EQ(As<SubqueryExpr>(*e).step_expr, nullptr);

  // Keywords are metric names outside their syntactic position.
  e = MustParse(R"(step{offset="1s"}[5m])");
  EXPECT_EQ(As<MatrixSelector>(*e).selector().name, "step");

  // Quoted names (3.x).
  e = MustParse(R"({"my.metric", "a.b"="x"})");
  const auto& q = As<VectorSelector>(*e);
  EXPECT_EQ(q.name, "");
  EXPECT_EQ(q.matchers[0].name(), "__name__");
  EXPECT_EQ(q.matchers[0].value(), "my.metric");
  EXPECT_EQ(q.matchers[1].name(), "a.b");

  e = MustParse("increase(foo[1m] anchored)");
  EXPECT_TRUE(As<MatrixSelector>(*As<Call>(*e).args[0]).selector().anchored);

  e = MustParse("a + on(x) group_left fill_left(1) fill_right(NaN) b");
  const auto& m = *As<BinaryExpr>(*e).matching;
  EXPECT_EQ(*m.fill_lhs, 1);
  EXPECT_TRUE(std::isnan(*m.fill_rhs));
}

TEST(ParserAstTest, AggregationsAndCalls) {
  auto e = MustParse("topk by (a) (5, x)");
  const auto& a = As<AggregateExpr>(*e);
  EXPECT_EQ(a.op, AggregateOp::kTopk);
  EXPECT_EQ(As<NumberLiteral>(*a.param).value, 5);
  EXPECT_EQ(a.grouping, std::vector<std::string>{"a"});
  EXPECT_FALSE(a.without);
  EXPECT_EQ(a.type(), ValueType::kVector);

  e = MustParse("count_values without (b) (\"v\", x)");
  EXPECT_TRUE(As<AggregateExpr>(*e).without);
  EXPECT_EQ(As<StringLiteral>(*As<AggregateExpr>(*e).param).value, "v");

  for (const char* q : {"round(x)", "round(x, 0.1)", "label_join(x, \"d\", \",\")",
                        "sort_by_label(x, \"a\", \"b\", \"c\")", "histogram_quantile(0.9, x)",
                        "histogram_quantiles(x, \"q\", 0.1, 0.2, 0.3)", "limitk(2, x)",
                        "limit_ratio(0.5, x)", "info(x)", "info(x, {a=~\".*\"})",
                        "mad_over_time(x[5m])", "start_timestamp(x)", "time()", "pi()",
                        "vector(1)", "scalar(x)", "min_of(1, 2)", "step()", "start()"}) {
    EXPECT_NE(MustParse(q), nullptr) << q;
  }
  e = MustParse("scalar(x) + time()");
  EXPECT_EQ(e->type(), ValueType::kScalar);
  e = MustParse("vector(1) > bool 2");
  EXPECT_EQ(e->type(), ValueType::kVector);
  EXPECT_EQ(MustParse("\"s\"")->type(), ValueType::kString);
  EXPECT_EQ(MustParse("foo[1m]")->type(), ValueType::kMatrix);
}

TEST(ParserOptionsTest, FunctionSetsFollowTheLanguageVersion) {
  ParseOptions v2;
  v2.compat_2x = true;
  EXPECT_EQ(Roundtrip("holt_winters(foo[5m], 0.5, 0.5)", v2), "holt_winters(foo[5m], 0.5, 0.5)");
  EXPECT_EQ(ErrorOf("holt_winters(foo[5m], 0.5, 0.5)"),
            "1:1: parse error: unknown function with name \"holt_winters\"");
  EXPECT_EQ(ErrorOf("double_exponential_smoothing(foo[5m], 0.5, 0.5)", v2),
            "1:1: parse error: unknown function with name \"double_exponential_smoothing\"");
  EXPECT_EQ(ErrorOf("limitk(1, foo)", v2),
            "1:1: parse error: unknown function with name \"limitk\"");
  EXPECT_THAT(ErrorOf("foo[5m+1s]", v2), HasSubstr("experimental duration expression"));
  EXPECT_THAT(ErrorOf("{\"a.b\"=\"x\"}", v2), HasSubstr("unexpected string"));
  EXPECT_EQ(LookupFunction("holt_winters", false), nullptr);
  EXPECT_NE(LookupFunction("holt_winters", true), nullptr);
  EXPECT_EQ(LookupFunction("info", true), nullptr);

  ParseOptions no_exp;
  no_exp.experimental_functions = false;
  EXPECT_EQ(ErrorOf("info(foo)", no_exp), "1:1: parse error: function \"info\" is not enabled");
  EXPECT_EQ(ErrorOf("limitk(1, foo)", no_exp),
            "1:1: parse error: limitk() is experimental and must be enabled with "
            "--enable-feature=promql-experimental-functions");

  ParseOptions no_ext;
  no_ext.extended_range_selectors = false;
  EXPECT_EQ(ErrorOf("rate(foo[1m] anchored)", no_ext),
            "1:6: parse error: anchored modifier is experimental and not enabled");
  ParseOptions no_fill;
  no_fill.binop_fill_modifiers = false;
  EXPECT_EQ(ErrorOf("a + fill(0) b", no_fill),
            "1:1: parse error: binop fill modifiers are experimental and not enabled");
  ParseOptions no_dur;
  no_dur.duration_expressions = false;
  EXPECT_EQ(ErrorOf("foo[5m+1m]", no_dur),
            "1:7: parse error: experimental duration expression is not enabled");
  EXPECT_EQ(Roundtrip("foo[5m]", no_dur), "foo[5m]");
}

TEST(ParserOptionsTest, RegexDotMatchesNewlineOnlyIn3x) {
  auto e3 = MustParse(R"({a=~"x.y"})");
  EXPECT_TRUE(As<VectorSelector>(*e3).matchers[0].Matches("x\ny"));
  ParseOptions v2;
  v2.compat_2x = true;
  auto e2 = MustParse(R"({a=~"x.y"})", v2);
  EXPECT_FALSE(As<VectorSelector>(*e2).matchers[0].Matches("x\ny"));
}

TEST(ParserLimitsTest, DeepNestingAndLongInputFailCleanly) {
  const std::string parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  EXPECT_THAT(ErrorOf(parens), HasSubstr("nesting depth exceeds the limit of 200"));
  std::string chain = "a";
  for (int i = 0; i < 5000; ++i) chain += " + a";
  EXPECT_THAT(ErrorOf(chain), HasSubstr("nesting depth exceeds the limit of 200"));
  std::string subqueries = "a";
  for (int i = 0; i < 300; ++i) subqueries += "[1m:]";
  EXPECT_THAT(ErrorOf(subqueries), HasSubstr("nesting depth exceeds the limit of 200"));
  EXPECT_THAT(ErrorOf(std::string(5000, '-') + "1"), HasSubstr("nesting depth"));
  ParseOptions small;
  small.max_input_bytes = 10;
  EXPECT_EQ(ErrorOf("sum(rate(foo[5m]))", small),
            "1:1: parse error: query of 18 bytes exceeds the limit of 10 bytes");
  // Within the limit, a long chain parses.
  std::string ok = "a";
  for (int i = 0; i < 150; ++i) ok += " + a";
  EXPECT_NE(MustParse(ok), nullptr);
}

TEST(MetricSelectorTest, ReturnsMatchers) {
  auto m = ParseMetricSelector(R"(up{job="a", i=~"x.*"})");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].ToString(), R"(job="a")");
  EXPECT_EQ((*m)[2].name(), "__name__");
  EXPECT_EQ((*m)[2].value(), "up");
  m = ParseMetricSelector(R"({a=""})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->size(), 1u);
  EXPECT_EQ(std::string(ParseMetricSelector("up offset 5m").status().message()),
            "1:4: parse error: unexpected <offset>");
  EXPECT_EQ(std::string(ParseMetricSelector("sum(up)").status().message()),
            "1:4: parse error: unexpected \"(\"");
}

TEST(DurationTest, ParsesAndFormatsLikeModelDuration) {
  EXPECT_EQ(*ParseDuration("1h30m"), 5400000);
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration("10s53ms"), 10053);
  EXPECT_EQ(*ParseDuration("1y"), 31536000000);
  EXPECT_EQ(*ParseDuration("2w"), 1209600000);
  EXPECT_FALSE(ParseDuration("1.5h").ok());
  EXPECT_FALSE(ParseDuration("5m3h").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("1h1h").ok());
  EXPECT_FALSE(ParseDuration("99999999999999999999y").ok());
  EXPECT_EQ(std::string(ParseDuration("1x").status().message()),
            "not a valid duration string: \"1x\"");
  EXPECT_EQ(FormatDuration(5400000), "1h30m");
  EXPECT_EQ(FormatDuration(604800000), "1w");
  EXPECT_EQ(FormatDuration(691200000), "8d");
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(90061001), "1d1h1m1s1ms");
  EXPECT_EQ(FormatDuration(-300000), "-5m");
  EXPECT_EQ(FormatDuration(31536000000), "1y");
}

TEST(DurationTest, EvaluatesDurationExpressions) {
  auto e = MustParse("foo[step() * 2 + 1m]");
  const auto& ms = As<MatrixSelector>(*e);
  ASSERT_NE(ms.range_expr, nullptr);
  auto v = EvalDurationExpr(*ms.range_expr, DurationContext{.step_ms = 10000, .range_ms = 0});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 80);
  e = MustParse("foo offset min_of(range(), 8s)");
  v = EvalDurationExpr(*As<VectorSelector>(*e).offset_expr,
                       DurationContext{.step_ms = 5000, .range_ms = 10000});
  EXPECT_EQ(*v, 8);
  e = MustParse("foo[1h30m % 1h]");
  v = EvalDurationExpr(*As<MatrixSelector>(*e).range_expr, {});
  EXPECT_EQ(*v, 1800);
  e = MustParse("foo[30m1s-30m1s % 1m]");
  v = EvalDurationExpr(*As<MatrixSelector>(*e).range_expr, {});
  EXPECT_EQ(*v, 1800);
  // `offset -2 ^ 2` is (foo offset -2) ^ 2; the literal binds to offset.
  e = MustParse("foo offset -2 ^ 2");
  ASSERT_EQ(e->kind(), NodeKind::kBinary);
  EXPECT_EQ(As<VectorSelector>(*As<BinaryExpr>(*e).lhs).offset_ms, -2000);
  e = MustParse("foo offset (-2 ^ 2)");
  EXPECT_EQ(*EvalDurationExpr(*As<VectorSelector>(*e).offset_expr, {}), -4);
}

TEST(SeriesDescTest, ExpandsValueSequencesAsUpstream) {
  auto s = ParseSeriesDesc(R"(metric{a="b"} 1+2x3 _ stale 5 _x2 -1-1x2 Inf)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->labels.ToString(), R"({__name__="metric", a="b"})");
  const auto& v = s->values;
  ASSERT_EQ(v.size(), 13u);
  EXPECT_EQ(v[0].value, 1);
  EXPECT_EQ(v[3].value, 7);
  EXPECT_TRUE(v[4].omitted);
  EXPECT_TRUE(model::IsStaleNaN(v[5].value));
  EXPECT_EQ(v[6].value, 5);
  EXPECT_TRUE(v[7].omitted && v[8].omitted);
  EXPECT_EQ(v[9].value, -1);
  EXPECT_EQ(v[11].value, -3);
  EXPECT_TRUE(std::isinf(v[12].value) && v[12].value > 0);

  // Repeated float64 addition, not a + i*b: 0.1 added ten times is not 1.
  s = ParseSeriesDesc("m 0+0.1x10");
  ASSERT_TRUE(s.ok());
  double acc = 0;
  for (int i = 0; i < 10; ++i) acc += 0.1;
  EXPECT_EQ(s->values.back().value, acc);
  EXPECT_NE(s->values.back().value, 1.0);

  s = ParseSeriesDesc(R"({__name__="x", job="a"} 0 NaN -Inf .5 1e3 5m 3x2)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->labels.ToString(), R"({__name__="x", job="a"})");
  ASSERT_EQ(s->values.size(), 9u);
  EXPECT_TRUE(std::isnan(s->values[1].value));
  EXPECT_EQ(s->values[3].value, 0.5);
  EXPECT_EQ(s->values[5].value, 300);
  EXPECT_EQ(s->values[8].value, 3);

  // No hexadecimal in series descriptions: 0x5 is "0 repeated 5 times".
  s = ParseSeriesDesc("m 0x5");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->values.size(), 6u);

  s = ParseSeriesDesc(R"({"my.metric", "a.b"="c"} 1)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->labels.Get("__name__"), "my.metric");
  EXPECT_EQ(s->labels.Get("a.b"), "c");

  s = ParseSeriesDesc("m");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->values.empty());
}

TEST(SeriesDescTest, ParsesHistogramValues) {
  auto s = ParseSeriesDesc(
      "h {{schema:1 sum:3 count:22 z_bucket:1 z_bucket_w:0.001 buckets:[5 10 7] offset:-1 "
      "n_buckets:[1 2] n_offset:2 counter_reset_hint:gauge}}x1 {{}}");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->values.size(), 3u);
  const HistogramDesc& h = *s->values[0].histogram;
  EXPECT_EQ(h.schema, 1);
  EXPECT_EQ(h.sum, 3);
  EXPECT_EQ(h.count, 22);
  EXPECT_EQ(h.zero_count, 1);
  EXPECT_EQ(h.zero_threshold, 0.001);
  EXPECT_EQ(h.buckets, (std::vector<double>{5, 10, 7}));
  EXPECT_EQ(h.offset, -1);
  EXPECT_EQ(h.negative_buckets, (std::vector<double>{1, 2}));
  EXPECT_EQ(h.negative_offset, 2);
  EXPECT_EQ(h.counter_reset_hint, HistogramDesc::CounterResetHint::kGauge);
  EXPECT_TRUE(h.counter_reset_hint_set);
  EXPECT_TRUE(s->values[1].histogram.has_value());
  EXPECT_FALSE(s->values[2].histogram->counter_reset_hint_set);

  s = ParseSeriesDesc(
      "h {{schema:-53 sum:1 count:1 custom_values:[1 2] buckets:[1]}}+{{count:1 buckets:[1]}}x2");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->values.size(), 3u);
  EXPECT_EQ(s->values[0].histogram->custom_values, (std::vector<double>{1, 2}));
  EXPECT_FALSE(s->values[0].increment.has_value());
  EXPECT_EQ(s->values[2].steps, 2u);
  EXPECT_EQ(s->values[2].increment->count, 1);
  EXPECT_FALSE(s->values[2].subtract);
}

TEST(SeriesDescTest, RejectsMalformedInput) {
  for (const char* bad : {"m 1+2", "m 1x", "m {{schema:0 schema:1}}", "m {{foo:1}}", "m abc",
                          "m{a=b} 1", "m 1,2", "m {{buckets:[1 2}}", "m \"x", "m 1e"}) {
    auto s = ParseSeriesDesc(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_THAT(std::string(s.status().message()), HasSubstr("parse error"));
    }
  }
  EXPECT_FALSE(ParseSeriesDesc("m 1x99999999", /*max_values=*/1000).ok());
}

}  // namespace
}  // namespace strata::promql::parser
