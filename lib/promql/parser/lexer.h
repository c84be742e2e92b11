// PromQL lexer (internal). Turns a query into tokens the way Prometheus's lex.go does:
// keywords are case-insensitive and only recognised outside braces, `inf`/`nan` are
// numbers, a number directly followed by a unit is a duration, `:` belongs to metric names
// outside brackets, and `#` starts a comment to the end of the line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strata::promql::parser {

enum class Tok : uint8_t {
  kEOF,
  kError,  // text = message; lexing stops here
  kIdentifier,
  kMetricIdentifier,  // identifier containing ':'
  kNumber,
  kDuration,
  kString,  // text = the quoted form including quotes
  kLeftParen, kRightParen, kLeftBrace, kRightBrace, kLeftBracket, kRightBracket,
  kComma, kColon, kAssign,  // `=`
  // Operators.
  kAdd, kSub, kMul, kDiv, kMod, kPow, kEqlc, kNeq, kGtr, kLss, kGte, kLte,
  kEqlRegex, kNeqRegex, kAt, kTrimUpper, kTrimLower,
  // Keyword operators.
  kLand, kLor, kLunless, kAtan2,
  // Aggregators.
  kSum, kAvg, kCount, kMin, kMax, kGroup, kStddev, kStdvar, kTopk, kBottomk,
  kCountValues, kQuantile, kLimitk, kLimitRatio,
  // Keywords.
  kBool, kBy, kGroupLeft, kGroupRight, kIgnoring, kOffset, kOn, kWithout,
  kStart, kEnd, kStep, kRange, kAnchored, kSmoothed,
};

bool IsAggregatorTok(Tok t);
bool IsKeywordTok(Tok t);   // bool .. smoothed
bool IsOperatorTok(Tok t);  // + .. @ and and/or/unless/atan2

struct Token {
  Tok type = Tok::kEOF;
  int32_t pos = 0;   // byte offset of the first character
  std::string_view text;  // view of the input (or of a static message for kError)
  std::string error;      // message for kError
};

// Upstream's Item.desc() wording for error messages: `<op:+>`, `identifier "foo"`,
// `end of input`, `"("`, `<aggr:sum>`, `<by>`, `number "1"`, ...
std::string DescribeToken(const Token& t);

struct LexOptions {
  bool compat_2x = false;  // no 3.x-only keywords (limitk, step, anchored, ...)
};

// Tokenises the whole input. The result ends with one kEOF or kError token.
std::vector<Token> Lex(std::string_view input, const LexOptions& opts);

// Unquotes a PromQL string literal ("..", '..' or `..`) with Go's escapes. Returns false
// and sets *err on a bad escape.
bool UnquoteString(std::string_view quoted, std::string* out, std::string* err);

// Parses a NUMBER token's text as upstream (strconv.ParseInt base 0, else ParseFloat;
// inf/nan any case). Returns false if it is not a number, setting *out_of_range (if given)
// when it is one but does not fit a float64.
bool ParseNumber(std::string_view text, double* out, bool* out_of_range = nullptr);

}  // namespace strata::promql::parser
