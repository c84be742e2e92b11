// Fuzz target: strata::base's JSON parser must accept or reject any input without crashing,
// and whatever it accepts must survive a write/parse round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto j = strata::base::ParseJson(text);
  if (!j.ok()) return 0;
  for (const std::string& out : {j->Write(), j->WriteIndented()}) {
    auto again = strata::base::ParseJson(out);
    // Writing may replace invalid UTF-8 with U+FFFD and NaN cannot occur, so a re-parse of
    // valid output must succeed and be stable from then on.
    if (!again.ok()) std::abort();
    if (again->Write() != strata::base::ParseJson(again->Write())->Write()) std::abort();
  }
  return 0;
}
