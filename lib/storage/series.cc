#include "strata/storage/series.h"

#include <algorithm>

namespace strata::storage {

VectorSeriesSet::VectorSeriesSet(std::vector<std::unique_ptr<Series>> series,
                                 absl::Status status)
    : series_(std::move(series)), status_(std::move(status)) {
  std::stable_sort(series_.begin(), series_.end(), [](const auto& a, const auto& b) {
    return Compare(a->labels(), b->labels()) < 0;
  });
}

std::unique_ptr<SeriesSet> EmptySeriesSet(absl::Status status) {
  return std::make_unique<VectorSeriesSet>(std::vector<std::unique_ptr<Series>>{},
                                           std::move(status));
}

}  // namespace strata::storage
