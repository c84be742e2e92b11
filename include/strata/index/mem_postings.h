// strata::index in-memory postings index: label name -> value -> sorted series refs.
//
// The head block's inverted index, as Prometheus's index.MemPostings. Every series is also
// listed under the all-postings key ("", "") (AllPostingsKey()). Lists stay sorted: adding a
// ref larger than the list's last appends (the common case, since head refs are monotonic);
// otherwise the ref is inserted in order.
//
// Thread-safety: all methods are safe to call concurrently. One reader/writer lock guards
// the maps; readers copy the lists they return (Get), so a returned Postings never observes
// later adds or deletes and holds no lock.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/index/postings.h"
#include "strata/model/labels.h"

namespace strata::index {

// Name and value under which every series is listed.
inline std::pair<std::string_view, std::string_view> AllPostingsKey() { return {"", ""}; }

class MemPostings {
 public:
  MemPostings();
  ~MemPostings();
  MemPostings(const MemPostings&) = delete;
  MemPostings& operator=(const MemPostings&) = delete;

  // Lists `ref` under every label of `lset` and under AllPostingsKey().
  void Add(SeriesRef ref, const model::Labels& lset);
  // Removes each (ref, lset) pair added earlier; lists and names left empty are dropped.
  void Delete(std::span<const std::pair<SeriesRef, model::Labels>> series);

  // A copy of the list for name=value (AllPostingsKey() for all series); empty if absent.
  std::unique_ptr<Postings> Get(std::string_view name, std::string_view value) const;
  std::unique_ptr<Postings> All() const { return Get("", ""); }
  // The union of the lists of `values` of `name`.
  std::unique_ptr<Postings> GetMany(std::string_view name,
                                    std::span<const std::string> values) const;
  // The union of the lists of the values of `name` that start with `prefix` and satisfy
  // `match`, plus the number of values taken through `*num_values` if non-null.
  std::unique_ptr<Postings> GetMatching(std::string_view name, std::string_view prefix,
                                        const std::function<bool(std::string_view)>& match,
                                        size_t* num_values = nullptr) const;

  // Sorted label names that have at least one series (AllPostingsKey() excluded).
  std::vector<std::string> LabelNames() const;
  // Sorted values of `name`.
  std::vector<std::string> LabelValues(std::string_view name) const;

  // Number of series listed under AllPostingsKey().
  size_t NumSeries() const;
  // Approximate heap bytes held by the index (maps, strings, lists), for memory accounting.
  size_t ApproxHeapBytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata::index
