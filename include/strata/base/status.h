// strata::base status helpers shared by every module.
//
// Errors follow STYLE.md section 3: functions that can fail return absl::Status or
// absl::StatusOr<T>, with messages of the form "what, where: detail". These helpers add
// context while keeping the code and payloads, and convert between std::string_view and
// Debian's absl::string_view (a distinct type there, not an alias of std's).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace strata::base {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }

// Returns `s` with "`context`: " prefixed to its message, keeping its code and payloads.
// Returns OK unchanged.
absl::Status Annotate(const absl::Status& s, std::string_view context);

// Attaches a payload named `type_url` to `s` so that callers can recognise a specific
// error (IsOutOfOrderSample() and the like) without reading message text.
absl::Status WithTag(absl::Status s, std::string_view type_url);

// True if `s` carries the payload `type_url` (set by WithTag).
bool HasTag(const absl::Status& s, std::string_view type_url);

}  // namespace strata::base
