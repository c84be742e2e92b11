#include "strata/index/postings.h"

#include <algorithm>
#include <utility>

namespace strata::index {

bool ListPostings::Seek(SeriesRef v) {
  const std::ptrdiff_t n = static_cast<std::ptrdiff_t>(list_.size());
  std::ptrdiff_t lo = pos_ < 0 ? 0 : pos_;
  if (lo >= n) {
    pos_ = n;
    return false;
  }
  if (list_[lo] >= v) {
    pos_ = lo;
    return true;
  }
  // Gallop: double the step until list_[hi] >= v, then binary-search (lo, hi]. Seeks in an
  // intersection are mostly short hops, which this finds in O(log distance).
  std::ptrdiff_t step = 1;
  std::ptrdiff_t hi = lo + 1;
  while (hi < n && list_[hi] < v) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  if (hi > n) hi = n;
  auto it = std::lower_bound(list_.begin() + lo + 1, list_.begin() + hi, v);
  pos_ = it - list_.begin();
  return pos_ < n;
}

namespace {

class EmptyPostingsImpl final : public Postings {
 public:
  bool Next() override { return false; }
  bool Seek(SeriesRef) override { return false; }
  SeriesRef At() const override { return 0; }
  absl::Status status() const override { return absl::OkStatus(); }
};

class ErrPostingsImpl final : public Postings {
 public:
  explicit ErrPostingsImpl(absl::Status s) : status_(std::move(s)) {}
  bool Next() override { return false; }
  bool Seek(SeriesRef) override { return false; }
  SeriesRef At() const override { return 0; }
  absl::Status status() const override { return status_; }

 private:
  absl::Status status_;
};

class IntersectPostings final : public Postings {
 public:
  explicit IntersectPostings(std::vector<std::unique_ptr<Postings>> its)
      : its_(std::move(its)) {}

  bool Next() override {
    if (!its_[0]->Next()) return Stop();
    return Align(its_[0]->At());
  }
  bool Seek(SeriesRef v) override {
    if (!its_[0]->Seek(v)) return Stop();
    return Align(its_[0]->At());
  }
  SeriesRef At() const override { return cur_; }
  absl::Status status() const override {
    for (const auto& it : its_) {
      absl::Status s = it->status();
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  bool Stop() { return false; }
  // Seeks every input to `target` until all agree on one ref.
  bool Align(SeriesRef target) {
    for (;;) {
      bool agreed = true;
      for (auto& it : its_) {
        if (!it->Seek(target)) return Stop();
        if (it->At() > target) {
          target = it->At();
          agreed = false;
          break;
        }
      }
      if (agreed) {
        cur_ = target;
        return true;
      }
    }
  }

  std::vector<std::unique_ptr<Postings>> its_;
  SeriesRef cur_ = 0;
};

class MergePostings final : public Postings {
 public:
  explicit MergePostings(std::vector<std::unique_ptr<Postings>> its) : its_(std::move(its)) {}

  bool Next() override {
    if (!started_) {
      started_ = true;
      for (auto& it : its_) {
        if (it->Next()) {
          heap_.push_back(it.get());
        } else {
          NoteError(*it);
        }
      }
      std::make_heap(heap_.begin(), heap_.end(), Greater);
    } else {
      // Advance every input sitting on the current ref.
      while (!heap_.empty() && heap_.front()->At() == cur_) Advance(false, 0);
    }
    return Top();
  }

  bool Seek(SeriesRef v) override {
    if (started_ && have_cur_ && cur_ >= v) return true;
    if (!started_) {
      started_ = true;
      for (auto& it : its_) {
        if (it->Seek(v)) {
          heap_.push_back(it.get());
        } else {
          NoteError(*it);
        }
      }
      std::make_heap(heap_.begin(), heap_.end(), Greater);
      return Top();
    }
    while (!heap_.empty() && heap_.front()->At() < v) Advance(true, v);
    return Top();
  }

  SeriesRef At() const override { return cur_; }
  absl::Status status() const override { return err_; }

 private:
  static bool Greater(const Postings* a, const Postings* b) { return a->At() > b->At(); }

  // Moves the heap's top input forward (Next, or Seek(v) when `seek`), re-heaping or
  // dropping it when exhausted.
  void Advance(bool seek, SeriesRef v) {
    std::pop_heap(heap_.begin(), heap_.end(), Greater);
    Postings* it = heap_.back();
    if (seek ? it->Seek(v) : it->Next()) {
      std::push_heap(heap_.begin(), heap_.end(), Greater);
    } else {
      NoteError(*it);
      heap_.pop_back();
    }
  }
  void NoteError(const Postings& it) {
    if (err_.ok()) err_ = it.status();
  }
  bool Top() {
    if (!err_.ok() || heap_.empty()) {
      have_cur_ = false;
      return false;
    }
    cur_ = heap_.front()->At();
    have_cur_ = true;
    return true;
  }

  std::vector<std::unique_ptr<Postings>> its_;
  std::vector<Postings*> heap_;  // min-heap on At()
  bool started_ = false;
  bool have_cur_ = false;
  SeriesRef cur_ = 0;
  absl::Status err_;
};

class WithoutPostings final : public Postings {
 public:
  WithoutPostings(std::unique_ptr<Postings> full, std::unique_ptr<Postings> drop)
      : full_(std::move(full)), drop_(std::move(drop)) {}

  bool Next() override {
    if (!full_->Next()) return false;
    return SkipDropped();
  }
  bool Seek(SeriesRef v) override {
    if (!full_->Seek(v)) return false;
    return SkipDropped();
  }
  SeriesRef At() const override { return full_->At(); }
  absl::Status status() const override {
    absl::Status s = full_->status();
    if (!s.ok()) return s;
    return drop_->status();
  }

 private:
  // Requires: full_ positioned. Moves full_ forward past refs present in drop_.
  bool SkipDropped() {
    for (;;) {
      const SeriesRef x = full_->At();
      if (drop_valid_ && (!drop_started_ || drop_->At() < x)) {
        drop_started_ = true;
        drop_valid_ = drop_->Seek(x);
        if (!drop_valid_ && !drop_->status().ok()) return false;
      }
      if (!drop_valid_ || drop_->At() != x) return true;
      if (!full_->Next()) return false;
    }
  }

  std::unique_ptr<Postings> full_;
  std::unique_ptr<Postings> drop_;
  bool drop_started_ = false;
  bool drop_valid_ = true;
};

}  // namespace

std::unique_ptr<Postings> EmptyPostings() { return std::make_unique<EmptyPostingsImpl>(); }

bool IsEmptyPostings(const Postings& p) {
  return dynamic_cast<const EmptyPostingsImpl*>(&p) != nullptr;
}

std::unique_ptr<Postings> ErrPostings(absl::Status status) {
  return std::make_unique<ErrPostingsImpl>(std::move(status));
}

std::unique_ptr<Postings> Intersect(std::vector<std::unique_ptr<Postings>> its) {
  if (its.empty()) return EmptyPostings();
  for (const auto& it : its) {
    if (IsEmptyPostings(*it)) return EmptyPostings();
  }
  if (its.size() == 1) return std::move(its[0]);
  return std::make_unique<IntersectPostings>(std::move(its));
}

std::unique_ptr<Postings> Merge(std::vector<std::unique_ptr<Postings>> its) {
  std::erase_if(its, [](const std::unique_ptr<Postings>& p) { return IsEmptyPostings(*p); });
  if (its.empty()) return EmptyPostings();
  if (its.size() == 1) return std::move(its[0]);
  return std::make_unique<MergePostings>(std::move(its));
}

std::unique_ptr<Postings> Without(std::unique_ptr<Postings> full,
                                  std::unique_ptr<Postings> drop) {
  if (IsEmptyPostings(*full)) return full;
  if (IsEmptyPostings(*drop)) return full;
  return std::make_unique<WithoutPostings>(std::move(full), std::move(drop));
}

absl::Status ExpandPostings(Postings& p, std::vector<SeriesRef>* out) {
  while (p.Next()) out->push_back(p.At());
  return p.status();
}

}  // namespace strata::index
