// strata::model labels: the identity of a time series.
//
// A Labels value is an immutable set of (name, value) pairs sorted by name with unique
// names, as Prometheus's labels.Labels. It is stored packed in one immutable, reference-
// counted buffer (uvarint length + bytes for every name and value, in order): a label set
// costs one allocation, a copy shares the buffer (one atomic increment, like Go's shared
// string bytes, so the head and its callers hold label text once), a Labels object is one
// pointer, equality is one memcmp, and hashing reads contiguous bytes. Thread-safety: a
// Labels value is immutable; copies may be made and destroyed from any thread.
// LabelsBuilder is not thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace strata::model {

inline constexpr std::string_view kMetricName = "__name__";

struct Label {
  std::string_view name;
  std::string_view value;
  friend bool operator==(const Label&, const Label&) = default;
};

class Labels {
 public:
  // Forward iterator over the pairs in name order. Views borrow the Labels object.
  class const_iterator {
   public:
    using value_type = Label;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;
    using pointer = const Label*;
    using reference = const Label&;

    const_iterator() = default;
    const Label& operator*() const { return cur_; }
    const Label* operator->() const { return &cur_; }
    const_iterator& operator++() {
      Load();
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator c = *this;
      Load();
      return c;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.at_ == b.at_;
    }

   private:
    friend class Labels;
    const_iterator(const char* p, const char* end) : next_(p), end_(end) { Load(); }
    void Load();

    const char* at_ = nullptr;    // start of the current pair; == end_ at the end
    const char* next_ = nullptr;  // start of the following pair
    const char* end_ = nullptr;
    Label cur_;
  };

  Labels() = default;
  Labels(const Labels& o) noexcept : rep_(o.rep_) {
    if (rep_ != nullptr) rep_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  Labels(Labels&& o) noexcept : rep_(std::exchange(o.rep_, nullptr)) {}
  Labels& operator=(const Labels& o) noexcept {
    Labels(o).swap(*this);
    return *this;
  }
  Labels& operator=(Labels&& o) noexcept {
    Labels(std::move(o)).swap(*this);
    return *this;
  }
  ~Labels() { Unref(); }
  void swap(Labels& o) noexcept { std::swap(rep_, o.rep_); }

  // Builds a label set from pairs in any order. Pairs with an empty value are dropped (an
  // empty value means "no such label" in Prometheus); for a repeated name the last wins.
  Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);
  static Labels FromPairs(std::vector<std::pair<std::string_view, std::string_view>> pairs);
  // Builds from pairs already sorted by name with unique names and non-empty values, as read
  // from an index or WAL. Requires: that order (checked by assert in debug builds).
  static Labels FromSorted(const std::vector<Label>& sorted);
  // Adopts a packed buffer produced by packed(). Returns InvalidArgument if it is malformed
  // or not sorted by unique names.
  static absl::Status FromPacked(std::string_view packed, Labels* out);

  const_iterator begin() const {
    const std::string_view b = packed();
    return const_iterator(b.data(), b.data() + b.size());
  }
  const_iterator end() const {
    const std::string_view b = packed();
    return const_iterator(b.data() + b.size(), b.data() + b.size());
  }
  bool empty() const { return rep_ == nullptr; }
  // Number of pairs; linear in the number of labels.
  size_t size() const;
  // Bytes of label text (names and values), as Prometheus reports label sizes.
  size_t text_bytes() const;

  // The value of `name`, or "" if absent. The view borrows this Labels.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricName); }

  // A new set without `names` / with only `names`.
  Labels Without(std::initializer_list<std::string_view> names) const;
  Labels Without(const std::vector<std::string>& names) const;
  Labels Keep(const std::vector<std::string>& names) const;
  Labels WithoutMetricName() const { return Without({kMetricName}); }

  // 64-bit xxh3 of the packed representation. Stable across runs and platforms.
  uint64_t Hash() const;
  // xxh3 over only the named labels (HashForLabels) or all but the named ones, in label order;
  // used for PromQL grouping. `names` must be sorted.
  uint64_t HashFor(const std::vector<std::string>& sorted_names, bool without) const;

  // Prometheus's text form: {__name__="up", job="a"} with Go-quoted values.
  std::string ToString() const;

  // The packed buffer (uvarint len, bytes) x 2 x size(). Valid while this object (or any
  // copy of it) lives.
  std::string_view packed() const {
    return rep_ == nullptr ? std::string_view() : std::string_view(rep_->bytes(), rep_->size);
  }
  // Bytes of the shared buffer (header included), or 0 for an empty set. Shared by copies.
  size_t heap_bytes() const { return rep_ == nullptr ? 0 : sizeof(Rep) + rep_->size; }

  friend bool operator==(const Labels& a, const Labels& b) {
    return a.rep_ == b.rep_ || a.packed() == b.packed();
  }
  // Prometheus's labels.Compare: label by label, name then value; a prefix sorts first.
  friend int Compare(const Labels& a, const Labels& b);
  friend bool operator<(const Labels& a, const Labels& b) { return Compare(a, b) < 0; }

 private:
  friend class LabelsBuilder;
  // The shared buffer: a header followed by `size` packed bytes.
  struct Rep {
    std::atomic<uint32_t> refs;
    uint32_t size;
    const char* bytes() const { return reinterpret_cast<const char*>(this + 1); }
  };
  // Copies `packed` (non-empty, already validated) into a new buffer; empty gives {}.
  static Labels Adopt(std::string_view packed);
  void Unref() noexcept {
    if (rep_ != nullptr && rep_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) Free(rep_);
  }
  static void Free(Rep* rep) noexcept;

  Rep* rep_ = nullptr;  // nullptr: the empty set
};

// Assembles a label set by setting and deleting names, starting from an optional base set.
class LabelsBuilder {
 public:
  LabelsBuilder() = default;
  explicit LabelsBuilder(const Labels& base) { Reset(base); }
  void Reset(const Labels& base);
  // Setting an empty value deletes the label, as in Prometheus.
  LabelsBuilder& Set(std::string_view name, std::string_view value);
  LabelsBuilder& Del(std::string_view name);
  std::string_view Get(std::string_view name) const;
  Labels Build() const;

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;  // kept sorted by name
};

// Which names are valid. Prometheus 3.x accepts any non-empty valid UTF-8 name (kUtf8);
// 2.x accepts only the legacy character classes (kLegacy).
enum class NameValidation { kLegacy, kUtf8 };

// True if `name` is a legacy metric name: [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsLegacyMetricName(std::string_view name);
// True if `name` is a legacy label name: [a-zA-Z_][a-zA-Z0-9_]*
bool IsLegacyLabelName(std::string_view name);
bool IsValidUtf8(std::string_view s);

// Checks one label set as Prometheus's scrape and append paths do: non-empty, a metric name
// present and valid, every label name valid under `scheme`, every value valid UTF-8, no
// duplicate names. Returns InvalidArgument naming the offending label.
absl::Status ValidateLabels(const Labels& lset, NameValidation scheme = NameValidation::kUtf8);

// Go strconv.Quote-compatible quoting, used by ToString() and by PromQL printing.
std::string QuoteGo(std::string_view s);

}  // namespace strata::model
