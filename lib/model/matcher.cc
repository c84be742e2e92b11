#include "strata/model/matcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "strata/base/status.h"

namespace strata::model {

struct Matcher::Regex {
  explicit Regex(const std::string& pattern, const RE2::Options& o) : re(pattern, o) {}
  RE2 re;
};

namespace {

bool IsMeta(char c) {
  switch (c) {
    case '\\': case '.': case '+': case '*': case '?': case '(': case ')': case '|':
    case '[': case ']': case '{': case '}': case '^': case '$':
      return true;
    default:
      return false;
  }
}

// If `p` is `lit` or `lit|lit|...` with no regex metacharacters except `|`, returns the
// literals (sorted, unique). Escaped metacharacters (`\.`) count as literals.
std::optional<std::vector<std::string>> LiteralAlternation(std::string_view p) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '|') {
      out.emplace_back();
    } else if (c == '\\') {
      if (i + 1 >= p.size() || !IsMeta(p[i + 1])) return std::nullopt;
      out.back() += p[++i];
    } else if (IsMeta(c)) {
      return std::nullopt;
    } else {
      out.back() += c;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The literal prefix of `p` up to its first metacharacter, if `p` has no top-level `|`.
std::string LiteralPrefix(std::string_view p) {
  if (p.find('|') != std::string_view::npos) return "";
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 < p.size() && IsMeta(p[i + 1])) {
        out += p[++i];
        continue;
      }
      break;
    }
    if (IsMeta(c)) {
      // A quantifier makes the preceding char optional or repeated: drop it from the prefix.
      if ((c == '*' || c == '?' || c == '{') && !out.empty()) out.pop_back();
      break;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string_view MatchTypeString(MatchType t) {
  switch (t) {
    case MatchType::kEqual: return "=";
    case MatchType::kNotEqual: return "!=";
    case MatchType::kRegexMatch: return "=~";
    case MatchType::kRegexNoMatch: return "!~";
  }
  return "?";
}

absl::StatusOr<Matcher> Matcher::Create(MatchType type, std::string_view name,
                                        std::string_view value, MatcherOptions opts) {
  Matcher m;
  m.type_ = type;
  m.name_.assign(name);
  m.value_.assign(value);
  if (type == MatchType::kEqual || type == MatchType::kNotEqual) {
    m.set_ = std::vector<std::string>{m.value_};
  } else {
    RE2::Options o;
    o.set_log_errors(false);
    o.set_dot_nl(opts.dot_matches_newline);
    o.set_max_mem(64 << 20);
    auto re = std::make_shared<Regex>(absl::StrCat("^(?:", base::ToAbsl(value), ")$"), o);
    if (!re->re.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid regular expression ",
                                                     QuoteGo(value), ": ", re->re.error()));
    }
    m.re_ = std::move(re);
    m.set_ = LiteralAlternation(value);
    m.prefix_ = LiteralPrefix(value);
  }
  m.matches_empty_ = m.Matches(std::string_view());
  return m;
}

bool Matcher::Matches(std::string_view v) const {
  switch (type_) {
    case MatchType::kEqual: return v == value_;
    case MatchType::kNotEqual: return v != value_;
    case MatchType::kRegexMatch:
    case MatchType::kRegexNoMatch: {
      bool hit;
      if (set_.has_value()) {
        hit = std::binary_search(set_->begin(), set_->end(), v);
      } else if (!prefix_.empty() && v.substr(0, prefix_.size()) != prefix_) {
        hit = false;
      } else {
        hit = RE2::FullMatch(re2::StringPiece(v.data(), v.size()), re_->re);
      }
      return (type_ == MatchType::kRegexMatch) == hit;
    }
  }
  return false;
}

std::string Matcher::ToString() const {
  return absl::StrCat(name_, base::ToAbsl(MatchTypeString(type_)), QuoteGo(value_));
}

bool MatchesAll(const std::vector<Matcher>& ms, const Labels& lset) {
  for (const Matcher& m : ms) {
    if (!m.Matches(lset)) return false;
  }
  return true;
}

}  // namespace strata::model
