#include "promql/parser/lexer.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "strata/base/status.h"
#include "strata/model/labels.h"

namespace strata::promql::parser {
namespace {

bool IsAlpha(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int HexVal(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

struct Keyword {
  std::string_view word;
  Tok tok;
  bool since_3x;
};

constexpr Keyword kKeywords[] = {
    {"and", Tok::kLand, false},
    {"or", Tok::kLor, false},
    {"unless", Tok::kLunless, false},
    {"atan2", Tok::kAtan2, false},
    {"sum", Tok::kSum, false},
    {"avg", Tok::kAvg, false},
    {"count", Tok::kCount, false},
    {"min", Tok::kMin, false},
    {"max", Tok::kMax, false},
    {"group", Tok::kGroup, false},
    {"stddev", Tok::kStddev, false},
    {"stdvar", Tok::kStdvar, false},
    {"topk", Tok::kTopk, false},
    {"bottomk", Tok::kBottomk, false},
    {"count_values", Tok::kCountValues, false},
    {"quantile", Tok::kQuantile, false},
    {"limitk", Tok::kLimitk, true},
    {"limit_ratio", Tok::kLimitRatio, true},
    {"offset", Tok::kOffset, false},
    {"by", Tok::kBy, false},
    {"without", Tok::kWithout, false},
    {"on", Tok::kOn, false},
    {"ignoring", Tok::kIgnoring, false},
    {"group_left", Tok::kGroupLeft, false},
    {"group_right", Tok::kGroupRight, false},
    {"bool", Tok::kBool, false},
    {"start", Tok::kStart, false},
    {"end", Tok::kEnd, false},
    {"step", Tok::kStep, true},
    {"range", Tok::kRange, true},
    {"anchored", Tok::kAnchored, true},
    {"smoothed", Tok::kSmoothed, true},
    {"inf", Tok::kNumber, false},
    {"nan", Tok::kNumber, false},
};

// Go's %q of the rune starting at s[0]: '.' , '\x00', '"', '世'.
std::string QuoteRune(std::string_view s) {
  if (s.empty()) return "'\\x00'";
  const unsigned char c = static_cast<unsigned char>(s[0]);
  if (c >= 0x80) {
    int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    if (n > 1 && static_cast<int>(s.size()) >= n) {
      bool ok = true;
      for (int i = 1; i < n; ++i) ok &= (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80;
      if (ok) return absl::StrCat("'", base::ToAbsl(s.substr(0, n)), "'");
    }
    return "'\xEF\xBF\xBD'";  // U+FFFD, as Go decodes an invalid byte
  }
  switch (c) {
    case '\'': return "'\\''";
    case '\\': return "'\\\\'";
    case '\n': return "'\\n'";
    case '\t': return "'\\t'";
    case '\r': return "'\\r'";
    case '\a': return "'\\a'";
    case '\b': return "'\\b'";
    case '\f': return "'\\f'";
    case '\v': return "'\\v'";
    default: break;
  }
  if (c < 0x20 || c == 0x7f) {
    static constexpr char kHex[] = "0123456789abcdef";
    return absl::StrCat("'\\x", std::string(1, kHex[c >> 4]), std::string(1, kHex[c & 15]),
                        "'");
  }
  return absl::StrCat("'", std::string(1, static_cast<char>(c)), "'");
}

class Lexer {
 public:
  Lexer(std::string_view in, const LexOptions& opts) : in_(in), opts_(opts) {}

  std::vector<Token> Run() {
    while (true) {
      while (pos_ < in_.size() && IsSpace(in_[pos_])) ++pos_;
      if (pos_ >= in_.size()) {
        if (in_braces_) return Fail(pos_, "unexpected end of input inside braces");
        if (paren_depth_ > 0) return Fail(pos_, "unclosed left parenthesis");
        if (bracket_open_) return Fail(pos_, "unclosed left bracket");
        Emit(Tok::kEOF, pos_, pos_);
        return std::move(out_);
      }
      if (in_[pos_] == '#') {
        while (pos_ < in_.size() && in_[pos_] != '\n') ++pos_;
        continue;
      }
      bool ok = in_braces_ ? InsideBraces() : Statement();
      if (!ok) return std::move(out_);
    }
  }

 private:
  std::vector<Token> Fail(size_t pos, std::string msg) {
    Error(pos, std::move(msg));
    return std::move(out_);
  }
  bool Error(size_t pos, std::string msg) {
    Token t;
    t.type = Tok::kError;
    t.pos = static_cast<int32_t>(pos);
    t.error = std::move(msg);
    out_.push_back(std::move(t));
    return false;
  }
  void Emit(Tok type, size_t start, size_t end) {
    Token t;
    t.type = type;
    t.pos = static_cast<int32_t>(start);
    t.text = in_.substr(start, end - start);
    out_.push_back(std::move(t));
  }
  char Peek(size_t off = 0) const {
    return pos_ + off < in_.size() ? in_[pos_ + off] : '\0';
  }

  bool Statement() {
    const size_t start = pos_;
    const char c = in_[pos_];
    auto one = [&](Tok t) {
      ++pos_;
      Emit(t, start, pos_);
      return true;
    };
    auto two = [&](Tok t) {
      pos_ += 2;
      Emit(t, start, pos_);
      return true;
    };
    switch (c) {
      case ',': return one(Tok::kComma);
      case '*': return one(Tok::kMul);
      case '/': return one(Tok::kDiv);
      case '%': return one(Tok::kMod);
      case '+': return one(Tok::kAdd);
      case '-': return one(Tok::kSub);
      case '^': return one(Tok::kPow);
      case '@': return one(Tok::kAt);
      case '=':
        if (Peek(1) == '=') return two(Tok::kEqlc);
        // Regex matchers only exist inside braces (lex.go: `1 =~ 1` is a lexer error).
        if (Peek(1) == '~') return Error(start, "unexpected character after '=': '~'");
        return one(Tok::kAssign);
      case '!':
        if (Peek(1) == '=') return two(Tok::kNeq);
        return Error(start, absl::StrCat("unexpected character after '!': ",
                                         QuoteRune(in_.substr(pos_ + 1))));
      case '<':
        if (Peek(1) == '=') return two(Tok::kLte);
        if (Peek(1) == '/' && !opts_.compat_2x) return two(Tok::kTrimUpper);
        return one(Tok::kLss);
      case '>':
        if (Peek(1) == '=') return two(Tok::kGte);
        if (Peek(1) == '/' && !opts_.compat_2x) return two(Tok::kTrimLower);
        return one(Tok::kGtr);
      case '"':
      case '\'':
        return String(c);
      case '`':
        return RawString();
      case '(':
        ++paren_depth_;
        return one(Tok::kLeftParen);
      case ')':
        // Upstream reports this one after the parenthesis (parse_test.go: "(1))" -> 1:5).
        if (paren_depth_ == 0) return Error(start + 1, "unexpected right parenthesis ')'");
        --paren_depth_;
        return one(Tok::kRightParen);
      case '{':
        in_braces_ = true;
        return one(Tok::kLeftBrace);
      case '}':
        return Error(start, "unexpected right brace '}'");
      case '[':
        if (bracket_open_) return Error(start, "unexpected left bracket '['");
        bracket_open_ = true;
        return one(Tok::kLeftBracket);
      case ']':
        if (!bracket_open_) return Error(start, "unexpected right bracket ']'");
        bracket_open_ = false;
        return one(Tok::kRightBracket);
      case ':':
        if (!bracket_open_) return Error(start, "unexpected colon ':'");
        return one(Tok::kColon);
      default:
        break;
    }
    if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) return NumberOrDuration();
    if (IsAlpha(c)) return KeywordOrIdentifier();
    return Error(start, absl::StrCat("unexpected character: ", QuoteRune(in_.substr(pos_))));
  }

  bool InsideBraces() {
    const size_t start = pos_;
    const char c = in_[pos_];
    if (IsAlpha(c)) {
      while (pos_ < in_.size() && IsAlnum(in_[pos_])) ++pos_;
      Emit(Tok::kIdentifier, start, pos_);
      return true;
    }
    switch (c) {
      case '"':
      case '\'':
        return String(c);
      case '`':
        return RawString();
      case ',':
        ++pos_;
        Emit(Tok::kComma, start, pos_);
        return true;
      case '=':
        if (Peek(1) == '~') {
          pos_ += 2;
          Emit(Tok::kEqlRegex, start, pos_);
        } else {
          ++pos_;
          Emit(Tok::kAssign, start, pos_);
        }
        return true;
      case '!':
        if (Peek(1) == '~') {
          pos_ += 2;
          Emit(Tok::kNeqRegex, start, pos_);
          return true;
        }
        if (Peek(1) == '=') {
          pos_ += 2;
          Emit(Tok::kNeq, start, pos_);
          return true;
        }
        return Error(start, absl::StrCat("unexpected character after '!' inside braces: ",
                                         QuoteRune(in_.substr(pos_ + 1))));
      case '{':
        return Error(start, "unexpected left brace '{'");
      case '}':
        ++pos_;
        in_braces_ = false;
        Emit(Tok::kRightBrace, start, pos_);
        return true;
      default:
        return Error(start, absl::StrCat("unexpected character inside braces: ",
                                         QuoteRune(in_.substr(pos_))));
    }
  }

  bool KeywordOrIdentifier() {
    const size_t start = pos_;
    bool has_colon = false;
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (IsAlnum(c)) {
        ++pos_;
      } else if (c == ':' && !bracket_open_) {
        has_colon = true;
        ++pos_;
      } else {
        break;
      }
    }
    const std::string_view word = in_.substr(start, pos_ - start);
    if (word.size() <= 12) {
      const std::string lower = absl::AsciiStrToLower(base::ToAbsl(word));
      for (const Keyword& k : kKeywords) {
        if (k.word == lower && !(k.since_3x && opts_.compat_2x)) {
          Emit(k.tok, start, pos_);
          return true;
        }
      }
    }
    Emit(has_colon ? Tok::kMetricIdentifier : Tok::kIdentifier, start, pos_);
    return true;
  }

  // Mirrors lex.go scanNumber: true if a number ends here not followed by a letter/digit.
  bool ScanNumber() {
    bool hex = false;
    if (Peek() == '0' && (Peek(1) == 'x' || Peek(1) == 'X')) {
      pos_ += 2;
      hex = true;
      if (Peek() == '_') ++pos_;
    }
    auto is_digit = [&](char c) { return hex ? IsHex(c) : IsDigit(c); };
    auto digits = [&]() {
      bool any = false;
      while (pos_ < in_.size()) {
        const char c = in_[pos_];
        if (is_digit(c)) {
          any = true;
          ++pos_;
        } else if (c == '_' && any && is_digit(Peek(1))) {
          ++pos_;
        } else {
          break;
        }
      }
      return any;
    };
    digits();
    if (Peek() == '.') {
      ++pos_;
      // lex.go's dot anti-pattern: "1..2" and "1._" are not numbers.
      if (Peek() == '.' || Peek() == '_') return false;
      digits();
    }
    if (!hex && (Peek() == 'e' || Peek() == 'E')) {
      const size_t save = pos_;
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!digits()) pos_ = save;  // "1e" is 1 followed by the letter e
    }
    // A second dot ("2.5.") makes the whole token a bad number, as in lex.go.
    if (Peek() == '.') return false;
    return !IsAlnum(Peek());
  }

  bool AcceptRemainingDuration() {
    auto accept = [&](std::string_view set) {
      if (pos_ < in_.size() && set.find(in_[pos_]) != std::string_view::npos) {
        ++pos_;
        return true;
      }
      return false;
    };
    if (!accept("smhdwy")) return false;
    accept("s");
    while (accept("0123456789")) {
      while (accept("0123456789")) {
      }
      if (!accept("smhdw")) return false;
      accept("s");
    }
    return !IsAlnum(Peek());
  }

  bool NumberOrDuration() {
    const size_t start = pos_;
    if (ScanNumber()) {
      Emit(Tok::kNumber, start, pos_);
      return true;
    }
    if (AcceptRemainingDuration()) {
      Emit(Tok::kDuration, start, pos_);
      return true;
    }
    // Include the offending character, as upstream's l.next() did before failing.
    if (pos_ < in_.size()) ++pos_;
    return Error(start, absl::StrCat("bad number or duration syntax: \"",
                                     base::ToAbsl(in_.substr(start, pos_ - start)), "\""));
  }

  bool String(char quote) {
    const size_t start = pos_;
    ++pos_;
    while (true) {
      if (pos_ >= in_.size() || in_[pos_] == '\n') {
        return Error(start, "unterminated quoted string");
      }
      const char c = in_[pos_++];
      if (c == quote) break;
      if (c != '\\') continue;
      if (pos_ >= in_.size()) return Error(start, "escape sequence not terminated");
      const char e = in_[pos_++];
      int n = 0;
      int base = 0;
      uint32_t max = 0;
      switch (e) {
        case 'a': case 'b': case 'f': case 'n': case 'r': case 't': case 'v': case '\\':
          continue;
        case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
          --pos_;
          n = 3, base = 8, max = 255;
          break;
        case 'x':
          n = 2, base = 16, max = 255;
          break;
        case 'u':
          n = 4, base = 16, max = 0x10FFFF;
          break;
        case 'U':
          n = 8, base = 16, max = 0x10FFFF;
          break;
        default:
          if (e == quote) continue;
          return Error(start, absl::StrCat("unknown escape sequence ",
                                           QuoteRune(in_.substr(pos_ - 1))));
      }
      uint32_t x = 0;
      for (; n > 0; --n) {
        if (pos_ >= in_.size()) return Error(start, "escape sequence not terminated");
        const char d = in_[pos_];
        const int v = base == 8 ? (d >= '0' && d <= '7' ? d - '0' : 99)
                                : (IsHex(d) ? HexVal(d) : 99);
        if (v >= base) {
          return Error(start, absl::StrCat("illegal character ", QuoteRune(in_.substr(pos_)),
                                           " in escape sequence"));
        }
        x = x * base + v;
        ++pos_;
      }
      if (x > max || (x >= 0xD800 && x < 0xE000)) {
        return Error(start, "escape sequence is an invalid Unicode code point");
      }
    }
    Emit(Tok::kString, start, pos_);
    return true;
  }

  bool RawString() {
    const size_t start = pos_;
    ++pos_;
    while (true) {
      if (pos_ >= in_.size()) return Error(start, "unterminated raw string");
      if (in_[pos_++] == '`') break;
    }
    Emit(Tok::kString, start, pos_);
    return true;
  }

  std::string_view in_;
  LexOptions opts_;
  size_t pos_ = 0;
  int paren_depth_ = 0;
  bool in_braces_ = false;
  bool bracket_open_ = false;
  std::vector<Token> out_;
};

void AppendUtf8(uint32_t r, std::string* out) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

}  // namespace

bool IsAggregatorTok(Tok t) { return t >= Tok::kSum && t <= Tok::kLimitRatio; }
bool IsKeywordTok(Tok t) { return t >= Tok::kBool && t <= Tok::kSmoothed; }
bool IsOperatorTok(Tok t) { return t >= Tok::kAdd && t <= Tok::kAtan2; }

std::string DescribeToken(const Token& t) {
  const std::string text(t.text);
  switch (t.type) {
    case Tok::kEOF: return "end of input";
    case Tok::kError: return t.error;
    case Tok::kIdentifier: return absl::StrCat("identifier ", model::QuoteGo(text));
    case Tok::kMetricIdentifier:
      return absl::StrCat("metric identifier ", model::QuoteGo(text));
    case Tok::kNumber:
    case Tok::kDuration:
    case Tok::kString: {
      // Go's "%.10q..." for values longer than 10 characters (Item.String in lex.go).
      const std::string quoted =
          text.size() > 10 ? model::QuoteGo(text.substr(0, 10)) + "..." : model::QuoteGo(text);
      const char* kind = t.type == Tok::kNumber ? "number " : t.type == Tok::kDuration ? "duration " : "string ";
      return kind + quoted;
    }
    default: break;
  }
  if (IsAggregatorTok(t.type)) return absl::StrCat("<aggr:", text, ">");
  if (IsKeywordTok(t.type)) return absl::StrCat("<", text, ">");
  if (IsOperatorTok(t.type)) return absl::StrCat("<op:", text, ">");
  return model::QuoteGo(text);
}

std::vector<Token> Lex(std::string_view input, const LexOptions& opts) {
  return Lexer(input, opts).Run();
}

bool UnquoteString(std::string_view s, std::string* out, std::string* err) {
  out->clear();
  if (s.size() < 2 || s.front() != s.back()) {
    *err = "invalid syntax";
    return false;
  }
  const char quote = s.front();
  s = s.substr(1, s.size() - 2);
  if (quote == '`') {
    if (s.find('`') != std::string_view::npos) {
      *err = "invalid syntax";
      return false;
    }
    out->assign(s);
    return true;
  }
  if (quote != '"' && quote != '\'') {
    *err = "invalid syntax";
    return false;
  }
  out->reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i++];
    if (c == quote || c == '\n') {
      *err = "invalid syntax";
      return false;
    }
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (i >= s.size()) {
      *err = "invalid syntax";
      return false;
    }
    const char e = s[i++];
    switch (e) {
      case 'a': out->push_back('\a'); continue;
      case 'b': out->push_back('\b'); continue;
      case 'f': out->push_back('\f'); continue;
      case 'n': out->push_back('\n'); continue;
      case 'r': out->push_back('\r'); continue;
      case 't': out->push_back('\t'); continue;
      case 'v': out->push_back('\v'); continue;
      case '\\': out->push_back('\\'); continue;
      case '\'':
      case '"':
        if (e != quote) {
          *err = "invalid syntax";
          return false;
        }
        out->push_back(e);
        continue;
      default: break;
    }
    int n = 0;
    int base = 16;
    if (e >= '0' && e <= '7') {
      --i;
      n = 3;
      base = 8;
    } else if (e == 'x') {
      n = 2;
    } else if (e == 'u') {
      n = 4;
    } else if (e == 'U') {
      n = 8;
    } else {
      *err = "invalid syntax";
      return false;
    }
    uint32_t x = 0;
    for (int k = 0; k < n; ++k) {
      if (i >= s.size()) {
        *err = "invalid syntax";
        return false;
      }
      const char d = s[i++];
      int v = 99;
      if (base == 8 && d >= '0' && d <= '7') v = d - '0';
      if (base == 16 && IsHex(d)) v = HexVal(d);
      if (v >= base) {
        *err = "invalid syntax";
        return false;
      }
      x = x * base + v;
    }
    if (e == 'u' || e == 'U') {
      if (x > 0x10FFFF || (x >= 0xD800 && x < 0xE000)) {
        *err = "invalid syntax";
        return false;
      }
      AppendUtf8(x, out);
    } else {
      if (x > 255) {
        *err = "invalid syntax";
        return false;
      }
      out->push_back(static_cast<char>(x));
    }
  }
  return true;
}

bool ParseNumber(std::string_view text, double* out, bool* out_of_range) {
  if (out_of_range != nullptr) *out_of_range = false;
  const std::string lower = absl::AsciiStrToLower(base::ToAbsl(text));
  if (lower == "inf" || lower == "+inf" || lower == "infinity") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (lower == "nan") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c != '_') clean.push_back(c);
  }
  if (clean.empty()) return false;
  // strconv.ParseInt(s, 0, 64): 0x hex, leading-0 octal, else decimal.
  {
    int base = 10;
    std::string_view digits = clean;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
      base = 16;
      digits.remove_prefix(2);
    } else if (digits.size() > 1 && digits[0] == '0') {
      base = 8;
      digits.remove_prefix(1);
    }
    int64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (ec == std::errc() && p == digits.data() + digits.size() && !digits.empty()) {
      *out = static_cast<double>(v);
      return true;
    }
    if (base == 16) {
      if (ec != std::errc::result_out_of_range) return false;
      // Go's ParseFloat accepts hex only with a p exponent, which the lexer never
      // produces, so an out-of-range hex literal is an error as upstream.
      return false;
    }
  }
  double d = 0;
  auto [p, ec] = std::from_chars(clean.data(), clean.data() + clean.size(), d);
  if (p != clean.data() + clean.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    // Go returns ±Inf or 0 with a range error; Prometheus reports that as an error.
    if (out_of_range != nullptr) *out_of_range = true;
    return false;
  }
  if (ec != std::errc()) return false;
  *out = d;
  return true;
}

}  // namespace strata::promql::parser
