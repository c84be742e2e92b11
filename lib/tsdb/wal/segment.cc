#include "strata/tsdb/wal/segment.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_format.h"

namespace strata::tsdb::wal {

std::string SegmentName(std::string_view dir, int index) {
  return base::JoinPath(dir, absl::StrFormat("%08d", index));
}

absl::StatusOr<std::vector<SegmentRef>> ListSegments(base::FileSystem& fs,
                                                     const std::string& dir) {
  auto names = fs.ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<SegmentRef> refs;
  for (std::string& name : *names) {
    // Like Prometheus's strconv.Atoi test: a segment is any all-digit name.
    if (name.empty() || name.size() > 9 ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    int index = 0;
    std::from_chars(name.data(), name.data() + name.size(), index);
    refs.push_back(SegmentRef{index, std::move(name)});
  }
  std::sort(refs.begin(), refs.end(),
            [](const SegmentRef& a, const SegmentRef& b) { return a.index < b.index; });
  for (size_t i = 1; i < refs.size(); ++i) {
    if (refs[i].index != refs[i - 1].index + 1) {
      return absl::DataLossError(absl::StrFormat("segments not sequential in %s: %s follows %s",
                                                 dir, refs[i].name, refs[i - 1].name));
    }
  }
  return refs;
}

absl::StatusOr<std::pair<int, int>> SegmentBounds(base::FileSystem& fs, const std::string& dir) {
  auto refs = ListSegments(fs, dir);
  if (!refs.ok()) return refs.status();
  if (refs->empty()) return std::pair<int, int>(-1, -1);
  return std::pair<int, int>(refs->front().index, refs->back().index);
}

}  // namespace strata::tsdb::wal
