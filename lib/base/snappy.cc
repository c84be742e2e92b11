#include "base/snappy.h"

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/coding.h"

namespace strata::base {
namespace {

absl::Status Corrupt(size_t offset, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("snappy: ", absl::string_view(what.data(), what.size()), " at offset ",
                   offset));
}

uint32_t LoadLE(const uint8_t* p, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

absl::Status SnappyUncompress(std::string_view in, size_t max_len, std::string* out) {
  const auto* begin = reinterpret_cast<const uint8_t*>(in.data());
  const uint8_t* p = begin;
  const uint8_t* end = begin + in.size();
  uint64_t n = 0;
  const int k = DecodeUvarint(p, end, &n);
  if (k <= 0) return Corrupt(0, "bad length preamble");
  if (n > max_len || n > 0xffffffffu) {
    return Corrupt(0, absl::StrCat("declared length ", n, " exceeds the limit ", max_len));
  }
  p += k;
  out->resize(n);
  char* dst = out->data();
  size_t d = 0;  // bytes produced
  while (p < end) {
    const size_t at = static_cast<size_t>(p - begin);
    const uint8_t tag = *p++;
    size_t len;
    size_t offset;
    switch (tag & 3) {
      case 0: {  // literal
        len = tag >> 2;
        if (len >= 60) {
          const int extra = static_cast<int>(len) - 59;
          if (end - p < extra) return Corrupt(at, "truncated literal length");
          len = LoadLE(p, extra);
          p += extra;
        }
        len += 1;
        if (static_cast<size_t>(end - p) < len) return Corrupt(at, "truncated literal");
        if (n - d < len) return Corrupt(at, "literal overruns the declared length");
        std::memcpy(dst + d, p, len);
        p += len;
        d += len;
        continue;
      }
      case 1:
        if (end - p < 1) return Corrupt(at, "truncated copy");
        len = 4 + ((tag >> 2) & 7);
        offset = (static_cast<size_t>(tag >> 5) << 8) | *p++;
        break;
      case 2:
        if (end - p < 2) return Corrupt(at, "truncated copy");
        len = 1 + (tag >> 2);
        offset = LoadLE(p, 2);
        p += 2;
        break;
      default:
        if (end - p < 4) return Corrupt(at, "truncated copy");
        len = 1 + (tag >> 2);
        offset = LoadLE(p, 4);
        p += 4;
        break;
    }
    if (offset == 0 || offset > d) return Corrupt(at, "copy offset out of range");
    if (n - d < len) return Corrupt(at, "copy overruns the declared length");
    // Byte by byte when the copy overlaps its own output (a run), as the format requires.
    const char* src = dst + d - offset;
    if (offset >= len) {
      std::memcpy(dst + d, src, len);
    } else {
      for (size_t i = 0; i < len; ++i) dst[d + i] = src[i];
    }
    d += len;
  }
  if (d != n) return Corrupt(in.size(), absl::StrCat("produced ", d, " of ", n, " bytes"));
  return absl::OkStatus();
}

}  // namespace strata::base
