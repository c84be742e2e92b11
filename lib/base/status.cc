#include "strata/base/status.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace strata::base {

absl::Status Annotate(const absl::Status& s, std::string_view context) {
  if (s.ok()) return s;
  absl::Status out(s.code(), absl::StrCat(ToAbsl(context), ": ", s.message()));
  s.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

absl::Status WithTag(absl::Status s, std::string_view type_url) {
  if (!s.ok()) s.SetPayload(ToAbsl(type_url), absl::Cord("1"));
  return s;
}

bool HasTag(const absl::Status& s, std::string_view type_url) {
  return !s.ok() && s.GetPayload(ToAbsl(type_url)).has_value();
}

}  // namespace strata::base
