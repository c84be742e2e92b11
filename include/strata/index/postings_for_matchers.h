// strata::index matchers -> postings, with Prometheus's semantics (tsdb/querier.go
// PostingsForMatchers as of 2.42).
//
// A missing label has the value "". So a matcher that accepts "" (`foo=""`, `foo=~".*"`,
// `foo!="bar"`, `foo!~".+"`) also selects series without `foo`; it is evaluated by
// subtracting, from the series selected so far (or from all series when no matcher selects
// positively), the series whose `foo` value the matcher rejects. Matchers that reject "" are
// intersected. `=~` with a literal alternation (Matcher::SetMatches()) looks up exactly
// those values; other regexes scan only the values with the regex's literal prefix.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/index/postings.h"
#include "strata/model/matcher.h"

namespace strata::index {

// The lookups PostingsForMatchers needs from an index (the head's MemPostings or a block's
// index reader). Implementations document their own thread-safety.
class PostingsReader {
 public:
  virtual ~PostingsReader() = default;
  // All series (the list under AllPostingsKey()).
  virtual absl::StatusOr<std::unique_ptr<Postings>> AllPostings() const = 0;
  // Union of the lists of `values` (sorted, unique) of label `name`; values that do not exist
  // contribute nothing.
  virtual absl::StatusOr<std::unique_ptr<Postings>> PostingsForValues(
      std::string_view name, std::span<const std::string> values) const = 0;
  // Union of the lists of every value of `name` that starts with `prefix` and satisfies
  // `match`.
  virtual absl::StatusOr<std::unique_ptr<Postings>> PostingsMatching(
      std::string_view name, std::string_view prefix,
      const std::function<bool(std::string_view)>& match) const = 0;
};

// Series refs matching every matcher, sorted by ref. Returns the reader's error, if any.
// An empty `matchers` selects nothing (Prometheus requires at least one matcher).
absl::StatusOr<std::unique_ptr<Postings>> PostingsForMatchers(
    const PostingsReader& ix, const std::vector<model::Matcher>& matchers);

class MemPostings;
// A PostingsReader over a MemPostings (borrowed; must outlive the reader). Thread-safe.
std::unique_ptr<PostingsReader> NewMemPostingsReader(const MemPostings& mp);

}  // namespace strata::index
