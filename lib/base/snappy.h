// Snappy decompression (raw block format, not the framing format), as Prometheus 2.x writes
// WAL records by default (fragment flag 0x08; github.com/golang/snappy Encode).
//
// Format (https://github.com/google/snappy/blob/main/format_description.txt):
//   uvarint uncompressed_length
//   elements, each starting with a tag byte whose low two bits give the kind:
//     00 literal: length-1 in the tag's upper 6 bits if < 60, else 60..63 means the
//        length-1 follows in 1..4 little-endian bytes; then the literal bytes
//     01 copy, 1-byte offset: length 4 + ((tag >> 2) & 7), offset ((tag >> 5) << 8) | next
//     10 copy, 2-byte offset: length 1 + (tag >> 2), offset little-endian 16 bits
//     11 copy, 4-byte offset: length 1 + (tag >> 2), offset little-endian 32 bits
//   A copy repeats `length` bytes starting `offset` bytes back; it may overlap its output.
//
// The decoder never reads or writes out of bounds: malformed input is an error naming the
// input offset. We decode Snappy ourselves rather than depend on libsnappy: reading is about
// a hundred lines, and strata never writes Snappy (its WAL uses zstd).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace strata::base {

// Decompresses `in` into *out (replacing its contents). Returns InvalidArgument naming the
// input offset for malformed input, and for a declared length above `max_len` (a guard
// against decompression bombs).
absl::Status SnappyUncompress(std::string_view in, size_t max_len, std::string* out);

}  // namespace strata::base
