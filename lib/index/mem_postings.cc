#include "strata/index/mem_postings.h"

#include <algorithm>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "strata/base/mutex.h"
#include "strata/base/status.h"

namespace strata::index {

namespace {

// Most values of high-cardinality labels (ids, pod names) have one series: one ref inline.
using List = absl::InlinedVector<SeriesRef, 1>;

// A value's list. The map key is a view into `owner`, the label set of the series that first
// had the value: the value's text is held once, in the series' shared label buffer (as in
// Prometheus, whose postings keys share the series' string bytes), not copied per value.
struct ValueEntry {
  List refs;
  model::Labels owner;
};
using ValueMap = absl::flat_hash_map<absl::string_view, ValueEntry>;

std::vector<SeriesRef> ToVector(const List& l) {
  return std::vector<SeriesRef>(l.begin(), l.end());
}

void InsertSorted(List& l, SeriesRef ref) {
  // Head refs are handed out in increasing order, so appending is the common case.
  if (l.empty() || l.back() < ref) {
    l.push_back(ref);
    return;
  }
  auto it = std::lower_bound(l.begin(), l.end(), ref);
  if (it != l.end() && *it == ref) return;
  l.insert(it, ref);
}

size_t StringHeap(const std::string& s) { return s.capacity() > 15 ? s.capacity() + 1 : 0; }

}  // namespace

struct MemPostings::Impl {
  mutable base::Mutex mu;
  // name -> value -> refs; the all-postings list lives under ("", "").
  absl::flat_hash_map<std::string, ValueMap> m ABSL_GUARDED_BY(mu);
};

MemPostings::MemPostings() : impl_(std::make_unique<Impl>()) {}
MemPostings::~MemPostings() = default;

void MemPostings::Add(SeriesRef ref, const model::Labels& lset) {
  base::MutexLock l(&impl_->mu);
  auto& m = impl_->m;
  InsertSorted(m[""][""].refs, ref);
  for (const model::Label& lbl : lset) {
    auto& values = m[base::ToAbsl(lbl.name)];
    // lbl.value views lset's buffer, which `owner` keeps alive with the entry.
    auto [it, inserted] = values.try_emplace(base::ToAbsl(lbl.value));
    if (inserted) it->second.owner = lset;
    InsertSorted(it->second.refs, ref);
  }
}

void MemPostings::Delete(std::span<const std::pair<SeriesRef, model::Labels>> series) {
  if (series.empty()) return;
  absl::flat_hash_set<SeriesRef> dead;
  dead.reserve(series.size());
  for (const auto& [ref, lset] : series) dead.insert(ref);
  auto drop = [&dead](List& l) {
    l.erase(std::remove_if(l.begin(), l.end(), [&dead](SeriesRef r) { return dead.contains(r); }),
            l.end());
    l.shrink_to_fit();
  };

  base::MutexLock l(&impl_->mu);
  auto& m = impl_->m;
  // Only the lists of the deleted series' labels can contain them; each is filtered once.
  absl::flat_hash_set<std::pair<std::string_view, std::string_view>> done;
  for (const auto& [ref, lset] : series) {
    for (const model::Label& lbl : lset) {
      if (!done.insert({lbl.name, lbl.value}).second) continue;
      auto nit = m.find(base::ToAbsl(lbl.name));
      if (nit == m.end()) continue;
      auto vit = nit->second.find(base::ToAbsl(lbl.value));
      if (vit == nit->second.end()) continue;
      drop(vit->second.refs);
      if (vit->second.refs.empty()) nit->second.erase(vit);
      if (nit->second.empty()) m.erase(nit);
    }
  }
  auto ait = m.find("");
  if (ait != m.end()) {
    auto vit = ait->second.find("");
    if (vit != ait->second.end()) {
      drop(vit->second.refs);
      if (vit->second.refs.empty()) m.erase(ait);
    }
  }
}

std::unique_ptr<Postings> MemPostings::Get(std::string_view name,
                                           std::string_view value) const {
  base::ReaderMutexLock l(&impl_->mu);
  auto nit = impl_->m.find(base::ToAbsl(name));
  if (nit == impl_->m.end()) return EmptyPostings();
  auto vit = nit->second.find(base::ToAbsl(value));
  if (vit == nit->second.end()) return EmptyPostings();
  return std::make_unique<ListPostings>(ToVector(vit->second.refs));
}

std::unique_ptr<Postings> MemPostings::GetMany(std::string_view name,
                                               std::span<const std::string> values) const {
  std::vector<std::unique_ptr<Postings>> its;
  {
    base::ReaderMutexLock l(&impl_->mu);
    auto nit = impl_->m.find(base::ToAbsl(name));
    if (nit == impl_->m.end()) return EmptyPostings();
    for (const std::string& v : values) {
      auto vit = nit->second.find(v);
      if (vit != nit->second.end()) {
        its.push_back(std::make_unique<ListPostings>(ToVector(vit->second.refs)));
      }
    }
  }
  return Merge(std::move(its));
}

std::unique_ptr<Postings> MemPostings::GetMatching(
    std::string_view name, std::string_view prefix,
    const std::function<bool(std::string_view)>& match, size_t* num_values) const {
  std::vector<std::unique_ptr<Postings>> its;
  {
    base::ReaderMutexLock l(&impl_->mu);
    auto nit = impl_->m.find(base::ToAbsl(name));
    if (nit != impl_->m.end()) {
      for (const auto& [v, entry] : nit->second) {
        const std::string_view sv = base::ToStd(v);
        if (!sv.starts_with(prefix) || !match(sv)) continue;
        its.push_back(std::make_unique<ListPostings>(ToVector(entry.refs)));
      }
    }
  }
  if (num_values != nullptr) *num_values = its.size();
  return Merge(std::move(its));
}

std::vector<std::string> MemPostings::LabelNames() const {
  std::vector<std::string> out;
  {
    base::ReaderMutexLock l(&impl_->mu);
    out.reserve(impl_->m.size());
    for (const auto& [name, values] : impl_->m) {
      if (!name.empty()) out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> MemPostings::LabelValues(std::string_view name) const {
  std::vector<std::string> out;
  {
    base::ReaderMutexLock l(&impl_->mu);
    auto nit = impl_->m.find(base::ToAbsl(name));
    if (nit == impl_->m.end()) return out;
    out.reserve(nit->second.size());
    for (const auto& [v, entry] : nit->second) out.emplace_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t MemPostings::NumSeries() const {
  base::ReaderMutexLock l(&impl_->mu);
  auto nit = impl_->m.find("");
  if (nit == impl_->m.end()) return 0;
  auto vit = nit->second.find("");
  return vit == nit->second.end() ? 0 : vit->second.refs.size();
}

size_t MemPostings::ApproxHeapBytes() const {
  base::ReaderMutexLock l(&impl_->mu);
  size_t total = impl_->m.capacity() * (sizeof(std::string) + sizeof(ValueMap) + 1);
  for (const auto& [name, values] : impl_->m) {
    total += StringHeap(name);
    total += values.capacity() * (sizeof(absl::string_view) + sizeof(ValueEntry) + 1);
    // Value text lives in the series' label buffers, counted with the series.
    for (const auto& [v, entry] : values) {
      if (entry.refs.capacity() > 1) total += entry.refs.capacity() * sizeof(SeriesRef);
    }
  }
  return total;
}

}  // namespace strata::index
