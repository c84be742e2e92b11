// strata::model label matchers: `=`, `!=`, `=~`, `!~` with Prometheus semantics.
//
// Regular expressions use RE2 syntax and are fully anchored, as Prometheus wraps them in
// ^(?:...)$. A missing label has the value "", so `foo=""` and `foo=~""` match series without
// `foo`, and `foo!=""` selects those that have it. A Matcher is immutable and thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/model/labels.h"

namespace strata::model {

enum class MatchType { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// "=", "!=", "=~", "!~".
std::string_view MatchTypeString(MatchType t);

struct MatcherOptions {
  // Prometheus 3.x compiles regexes with the s flag, so `.` matches "\n"; 2.x does not.
  bool dot_matches_newline = true;
};

class Matcher {
 public:
  // Returns InvalidArgument naming the pattern and RE2's complaint if a regex does not
  // compile.
  static absl::StatusOr<Matcher> Create(MatchType type, std::string_view name,
                                        std::string_view value, MatcherOptions opts = {});

  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }

  // Whether the value `v` of label name() satisfies the matcher ("" for a missing label).
  bool Matches(std::string_view v) const;
  // Whether the series `lset` satisfies the matcher.
  bool Matches(const Labels& lset) const { return Matches(lset.Get(name_)); }
  // True if the matcher accepts a missing label (the value "").
  bool MatchesEmpty() const { return matches_empty_; }

  // For `=~` and `!~` whose pattern is a plain alternation of literals (`a|b|c`, or one
  // literal), the literals, sorted and unique; for `=` and `!=`, {value()}. nullopt when the
  // pattern needs a real regex. Lets postings lookups skip scanning every value.
  const std::optional<std::vector<std::string>>& SetMatches() const { return set_; }
  // A literal prefix every matching value starts with ("" if none), for `=~`.
  const std::string& Prefix() const { return prefix_; }

  // name op "value", e.g. job=~"api|web".
  std::string ToString() const;

  friend bool operator==(const Matcher& a, const Matcher& b) {
    return a.type_ == b.type_ && a.name_ == b.name_ && a.value_ == b.value_;
  }

 private:
  struct Regex;
  Matcher() = default;

  MatchType type_ = MatchType::kEqual;
  std::string name_;
  std::string value_;
  std::shared_ptr<const Regex> re_;
  std::optional<std::vector<std::string>> set_;
  std::string prefix_;
  bool matches_empty_ = false;
};

// True if every matcher accepts `lset`.
bool MatchesAll(const std::vector<Matcher>& ms, const Labels& lset);

}  // namespace strata::model
