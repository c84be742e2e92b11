// strata::index postings: sorted lists of series references and their set algebra.
//
// A postings list is the set of series that carry one label pair, as in Prometheus's
// tsdb/index/postings.go. Every list is strictly increasing. Queries combine lists with
// Intersect (AND of positive matchers), Merge (k-way union, for `=~"a|b"`) and Without
// (difference, for negative matchers), lazily: each combinator is itself a Postings.
//
// Protocol (STYLE.md section 5): Next()/Seek() return false at the end or on error, At() is
// valid after a true return, status() says why iteration stopped. Seek(v) moves to the first
// ref >= v and never moves backwards; ListPostings seeks by galloping (exponential then
// binary search) so intersecting a short list with a long one costs O(short * log(long)).
// Postings objects are single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "strata/model/sample.h"

namespace strata::index {

using model::SeriesRef;

class Postings {
 public:
  virtual ~Postings() = default;
  // Advances to the next ref. False at the end or on error.
  virtual bool Next() = 0;
  // Advances to the first ref >= v; stays if the current ref already is. False if none.
  virtual bool Seek(SeriesRef v) = 0;
  // Requires: the last Next()/Seek() returned true.
  virtual SeriesRef At() const = 0;
  // OK at a clean end; the error that stopped iteration otherwise.
  virtual absl::Status status() const = 0;
};

// Postings over a sorted vector it owns, or over a borrowed span (which must outlive it).
class ListPostings final : public Postings {
 public:
  ListPostings() = default;
  explicit ListPostings(std::vector<SeriesRef> refs)
      : owned_(std::move(refs)), list_(owned_) {}
  // Not copyable or movable: list_ may point into owned_.
  ListPostings(const ListPostings&) = delete;
  ListPostings& operator=(const ListPostings&) = delete;
  // Borrows `refs`. Requires: sorted strictly increasing; outlives this object.
  static std::unique_ptr<ListPostings> Borrow(std::span<const SeriesRef> refs) {
    auto p = std::make_unique<ListPostings>();
    p->list_ = refs;
    return p;
  }

  bool Next() override {
    if (pos_ + 1 >= static_cast<std::ptrdiff_t>(list_.size())) {
      pos_ = static_cast<std::ptrdiff_t>(list_.size());
      return false;
    }
    ++pos_;
    return true;
  }
  bool Seek(SeriesRef v) override;
  SeriesRef At() const override { return list_[pos_]; }
  absl::Status status() const override { return absl::OkStatus(); }

  size_t size() const { return list_.size(); }

 private:
  std::vector<SeriesRef> owned_;
  std::span<const SeriesRef> list_;
  std::ptrdiff_t pos_ = -1;
};

// A list with no refs.
std::unique_ptr<Postings> EmptyPostings();
// True if `p` is known to be empty without iterating it (created by EmptyPostings()).
bool IsEmptyPostings(const Postings& p);
// A postings that reports `status` on its first Next()/Seek().
std::unique_ptr<Postings> ErrPostings(absl::Status status);

// Refs present in every input. An empty input list yields EmptyPostings(); an error in any
// input stops iteration with that error.
std::unique_ptr<Postings> Intersect(std::vector<std::unique_ptr<Postings>> its);
// Refs present in any input, each once, in order (k-way merge with a binary heap).
std::unique_ptr<Postings> Merge(std::vector<std::unique_ptr<Postings>> its);
// Refs of `full` that are not in `drop`.
std::unique_ptr<Postings> Without(std::unique_ptr<Postings> full,
                                  std::unique_ptr<Postings> drop);

// Drains `p` into a vector. Returns the iteration error, if any.
absl::Status ExpandPostings(Postings& p, std::vector<SeriesRef>* out);

}  // namespace strata::index
