// Merging of several sources, as Prometheus's storage.NewMergeQuerier with the chained
// series merge (storage/merge.go): series with identical labels from several sources become
// one series whose samples are the union by timestamp.
#include <algorithm>
#include <queue>

#include "base/status_macros.h"
#include "strata/storage/querier.h"

namespace strata::storage {
namespace {

class MergeSampleIterator final : public SampleIterator {
 public:
  explicit MergeSampleIterator(std::vector<std::unique_ptr<SampleIterator>> its)
      : its_(std::move(its)) {}

  bool Next() override {
    if (!started_) {
      started_ = true;
      for (size_t i = 0; i < its_.size(); ++i) {
        if (its_[i]->Next()) heap_.push_back(i);
        if (!Check(i)) return false;
      }
      std::make_heap(heap_.begin(), heap_.end(), Cmp{this});
      return Emit();
    }
    if (heap_.empty()) return false;
    // Advance every iterator positioned at the last emitted timestamp.
    while (!heap_.empty() && its_[heap_.front()]->At().t <= cur_.t) {
      std::pop_heap(heap_.begin(), heap_.end(), Cmp{this});
      const size_t i = heap_.back();
      heap_.pop_back();
      if (its_[i]->Next()) {
        heap_.push_back(i);
        std::push_heap(heap_.begin(), heap_.end(), Cmp{this});
      } else if (!Check(i)) {
        return false;
      }
    }
    return Emit();
  }

  bool Seek(int64_t t) override {
    if (started_ && !heap_.empty() && cur_.t >= t) return true;
    started_ = true;
    heap_.clear();
    for (size_t i = 0; i < its_.size(); ++i) {
      if (its_[i]->Seek(t)) heap_.push_back(i);
      if (!Check(i)) return false;
    }
    std::make_heap(heap_.begin(), heap_.end(), Cmp{this});
    return Emit();
  }

  model::Sample At() const override { return cur_; }
  // The start timestamp comes from the source whose sample was emitted.
  int64_t AtST() const override { return cur_st_; }
  absl::Status status() const override { return status_; }

 private:
  struct Cmp {
    const MergeSampleIterator* m;
    // Max-heap comparator: "a after b" so the earliest timestamp, then lowest index, is on top.
    bool operator()(size_t a, size_t b) const {
      const int64_t ta = m->its_[a]->At().t, tb = m->its_[b]->At().t;
      return ta != tb ? ta > tb : a > b;
    }
  };
  bool Check(size_t i) {
    absl::Status s = its_[i]->status();
    if (!s.ok()) {
      status_ = std::move(s);
      heap_.clear();
      return false;
    }
    return true;
  }
  bool Emit() {
    if (heap_.empty()) return false;
    cur_ = its_[heap_.front()]->At();
    cur_st_ = its_[heap_.front()]->AtST();
    return true;
  }

  std::vector<std::unique_ptr<SampleIterator>> its_;
  std::vector<size_t> heap_;
  model::Sample cur_;
  int64_t cur_st_ = kNoStartTimestamp;
  absl::Status status_;
  bool started_ = false;
};

class MergedSeries final : public Series {
 public:
  explicit MergedSeries(std::vector<Series*> parts) : parts_(std::move(parts)) {}
  const model::Labels& labels() const override { return parts_[0]->labels(); }
  std::unique_ptr<SampleIterator> Iterator(std::unique_ptr<SampleIterator> reuse) const override {
    if (parts_.size() == 1) return parts_[0]->Iterator(std::move(reuse));
    std::vector<std::unique_ptr<SampleIterator>> its;
    its.reserve(parts_.size());
    for (Series* s : parts_) its.push_back(s->Iterator());
    return std::make_unique<MergeSampleIterator>(std::move(its));
  }

 private:
  std::vector<Series*> parts_;
};

class MergeSeriesSet final : public SeriesSet {
 public:
  explicit MergeSeriesSet(std::vector<std::unique_ptr<SeriesSet>> sets) : sets_(std::move(sets)) {}

  bool Next() override {
    if (!started_) {
      started_ = true;
      for (size_t i = 0; i < sets_.size(); ++i) {
        if (sets_[i]->Next()) {
          heap_.push_back(i);
        } else if (!sets_[i]->status().ok()) {
          status_ = sets_[i]->status();
          return false;
        }
      }
      std::make_heap(heap_.begin(), heap_.end(), Cmp{this});
    } else {
      for (size_t i : current_sets_) {
        if (sets_[i]->Next()) {
          heap_.push_back(i);
          std::push_heap(heap_.begin(), heap_.end(), Cmp{this});
        } else if (!sets_[i]->status().ok()) {
          status_ = sets_[i]->status();
          return false;
        }
      }
    }
    if (heap_.empty()) return false;
    current_sets_.clear();
    std::vector<Series*> parts;
    const model::Labels& first = sets_[heap_.front()]->At().labels();
    model::Labels lset = first;
    while (!heap_.empty() && sets_[heap_.front()]->At().labels() == lset) {
      std::pop_heap(heap_.begin(), heap_.end(), Cmp{this});
      const size_t i = heap_.back();
      heap_.pop_back();
      current_sets_.push_back(i);
      parts.push_back(&sets_[i]->At());
    }
    // Sources earlier in the list win ties on equal timestamps.
    std::sort(current_sets_.begin(), current_sets_.end());
    parts.clear();
    for (size_t i : current_sets_) parts.push_back(&sets_[i]->At());
    cur_ = std::make_unique<MergedSeries>(std::move(parts));
    return true;
  }
  Series& At() override { return *cur_; }
  absl::Status status() const override { return status_; }
  std::vector<absl::Status> warnings() const override {
    std::vector<absl::Status> out;
    for (const auto& s : sets_) {
      for (auto& w : s->warnings()) out.push_back(std::move(w));
    }
    return out;
  }

 private:
  struct Cmp {
    const MergeSeriesSet* m;
    bool operator()(size_t a, size_t b) const {
      const int c = Compare(m->sets_[a]->At().labels(), m->sets_[b]->At().labels());
      return c != 0 ? c > 0 : a > b;
    }
  };

  std::vector<std::unique_ptr<SeriesSet>> sets_;
  std::vector<size_t> heap_;
  std::vector<size_t> current_sets_;
  std::unique_ptr<MergedSeries> cur_;
  absl::Status status_;
  bool started_ = false;
};

std::vector<std::string> MergeSorted(std::vector<std::vector<std::string>> lists) {
  std::vector<std::string> out;
  for (auto& l : lists) {
    std::vector<std::string> merged;
    merged.reserve(out.size() + l.size());
    std::set_union(std::make_move_iterator(out.begin()), std::make_move_iterator(out.end()),
                   std::make_move_iterator(l.begin()), std::make_move_iterator(l.end()),
                   std::back_inserter(merged));
    out = std::move(merged);
  }
  return out;
}

class MergeQuerier final : public Querier {
 public:
  explicit MergeQuerier(std::vector<std::unique_ptr<Querier>> qs) : qs_(std::move(qs)) {}
  ~MergeQuerier() override { (void)Close(); }

  std::unique_ptr<SeriesSet> Select(const std::vector<model::Matcher>& matchers,
                                    const SelectHints* hints) override {
    if (qs_.size() == 1) return qs_[0]->Select(matchers, hints);
    std::vector<std::unique_ptr<SeriesSet>> sets;
    sets.reserve(qs_.size());
    for (auto& q : qs_) sets.push_back(q->Select(matchers, hints));
    return std::make_unique<MergeSeriesSet>(std::move(sets));
  }
  absl::StatusOr<std::vector<std::string>> LabelNames(
      const std::vector<model::Matcher>& matchers) override {
    std::vector<std::vector<std::string>> lists;
    for (auto& q : qs_) {
      STRATA_ASSIGN_OR_RETURN(auto l, q->LabelNames(matchers));
      lists.push_back(std::move(l));
    }
    return MergeSorted(std::move(lists));
  }
  absl::StatusOr<std::vector<std::string>> LabelValues(
      const std::string& name, const std::vector<model::Matcher>& matchers) override {
    std::vector<std::vector<std::string>> lists;
    for (auto& q : qs_) {
      STRATA_ASSIGN_OR_RETURN(auto l, q->LabelValues(name, matchers));
      lists.push_back(std::move(l));
    }
    return MergeSorted(std::move(lists));
  }
  absl::Status Close() override {
    absl::Status first;
    for (auto& q : qs_) {
      absl::Status s = q->Close();
      if (first.ok()) first = s;
    }
    return first;
  }

 private:
  std::vector<std::unique_ptr<Querier>> qs_;
};

}  // namespace

std::unique_ptr<Querier> NewMergeQuerier(std::vector<std::unique_ptr<Querier>> queriers) {
  return std::make_unique<MergeQuerier>(std::move(queriers));
}

std::unique_ptr<SampleIterator> NewMergeSampleIterator(
    std::vector<std::unique_ptr<SampleIterator>> its) {
  return std::make_unique<MergeSampleIterator>(std::move(its));
}

}  // namespace strata::storage
