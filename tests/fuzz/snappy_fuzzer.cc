// Fuzzes the Snappy decoder: any input either decodes to exactly the declared length or
// fails with an error; never a crash, an out-of-bounds access or an unbounded allocation.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/snappy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string out;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMax = 1 << 20;
  const absl::Status s = strata::base::SnappyUncompress(in, kMax, &out);
  if (s.ok() && out.size() > kMax) std::abort();
  return 0;
}
