#include "strata/index/postings_for_matchers.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "base/status_macros.h"
#include "strata/base/status.h"
#include "strata/index/mem_postings.h"

namespace strata::index {

namespace {

using model::Matcher;
using model::MatchType;

bool IsNot(const Matcher& m) {
  return m.type() == MatchType::kNotEqual || m.type() == MatchType::kRegexNoMatch;
}

// Postings of the series whose value of m.name() is set and satisfies m.Matches(v) == want.
// This is upstream's postingsForMatcher (want = true) and inversePostingsForMatcher
// (want = false), with the same fast paths: an equality or a literal set is looked up
// directly; otherwise the values are scanned, only those with the regex's literal prefix.
absl::StatusOr<std::unique_ptr<Postings>> ValuePostings(const PostingsReader& ix,
                                                        const Matcher& m, bool want) {
  const bool positive = !IsNot(m);  // m selects the values its pattern matches
  if (positive == want && m.SetMatches().has_value()) {
    // `=` / `=~"a|b"` (want) or `!=` / `!~"a|b"` (rejected values): exactly the literals.
    return ix.PostingsForValues(m.name(), *m.SetMatches());
  }
  // The literal prefix bounds the values the pattern matches, which are the ones wanted
  // exactly when positive == want.
  const std::string_view prefix =
      (positive == want && m.type() != MatchType::kEqual && m.type() != MatchType::kNotEqual)
          ? std::string_view(m.Prefix())
          : std::string_view();
  return ix.PostingsMatching(m.name(), prefix,
                             [&m, want](std::string_view v) { return m.Matches(v) == want; });
}

class MemPostingsReader final : public PostingsReader {
 public:
  explicit MemPostingsReader(const MemPostings& mp) : mp_(mp) {}
  absl::StatusOr<std::unique_ptr<Postings>> AllPostings() const override { return mp_.All(); }
  absl::StatusOr<std::unique_ptr<Postings>> PostingsForValues(
      std::string_view name, std::span<const std::string> values) const override {
    return mp_.GetMany(name, values);
  }
  absl::StatusOr<std::unique_ptr<Postings>> PostingsMatching(
      std::string_view name, std::string_view prefix,
      const std::function<bool(std::string_view)>& match) const override {
    return mp_.GetMatching(name, prefix, match);
  }

 private:
  const MemPostings& mp_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Postings>> PostingsForMatchers(
    const PostingsReader& ix, const std::vector<model::Matcher>& matchers) {
  // A name is "must be set" when some matcher on it rejects the empty value; every other
  // matcher on that name can then be evaluated against the label's values only.
  absl::flat_hash_set<std::string> must_be_set;
  for (const Matcher& m : matchers) {
    if (!m.MatchesEmpty()) must_be_set.insert(m.name());
  }
  // A subtracting matcher is evaluated as "remove the series it rejects" (it accepts a
  // missing label, or it is a negation of a non-empty pattern on a must-be-set name).
  auto subtracting = [&must_be_set](const Matcher& m) {
    if (!must_be_set.contains(m.name())) return true;
    return IsNot(m) && m.MatchesEmpty();
  };

  std::vector<std::unique_ptr<Postings>> its;
  std::vector<std::unique_ptr<Postings>> not_its;
  bool has_subtracting = false;
  bool has_intersecting = false;
  for (const Matcher& m : matchers) {
    (subtracting(m) ? has_subtracting : has_intersecting) = true;
  }
  if (has_subtracting && !has_intersecting) {
    // Nothing to subtract from: start from every series. Taking it first means series
    // added while this runs cannot show up in the result half-filtered.
    STRATA_ASSIGN_OR_RETURN(auto all, ix.AllPostings());
    its.push_back(std::move(all));
  }

  for (const Matcher& m : matchers) {
    if (m.name().empty() && m.value().empty()) {
      // Upstream special case: {""=""} means all postings.
      STRATA_ASSIGN_OR_RETURN(auto all, ix.AllPostings());
      its.push_back(std::move(all));
      continue;
    }
    if (!must_be_set.contains(m.name())) {
      // l="" and friends: the matcher accepts a missing label, so drop the series whose
      // value it rejects and keep everything else (prometheus/prometheus#3575).
      STRATA_ASSIGN_OR_RETURN(auto p, ValuePostings(ix, m, /*want=*/false));
      not_its.push_back(std::move(p));
      continue;
    }
    const bool matches_empty = m.MatchesEmpty();
    if (IsNot(m) && matches_empty) {
      // l!="foo" where l must be set: subtract the series with l="foo".
      STRATA_ASSIGN_OR_RETURN(auto p, ValuePostings(ix, m, /*want=*/false));
      not_its.push_back(std::move(p));
    } else {
      // l="a", l=~"a.+", or l!~"" / l!="" (a negation that rejects ""): intersect with the
      // series whose value the matcher accepts.
      STRATA_ASSIGN_OR_RETURN(auto p, ValuePostings(ix, m, /*want=*/true));
      if (IsEmptyPostings(*p)) return EmptyPostings();
      its.push_back(std::move(p));
    }
  }

  std::unique_ptr<Postings> it = Intersect(std::move(its));
  for (auto& n : not_its) it = Without(std::move(it), std::move(n));
  return it;
}

std::unique_ptr<PostingsReader> NewMemPostingsReader(const MemPostings& mp) {
  return std::make_unique<MemPostingsReader>(mp);
}

}  // namespace strata::index
