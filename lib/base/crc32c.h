// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every Prometheus
// file format (index sections, chunks, WAL fragments, tombstones). Check value:
// Crc32c("123456789") == 0xE3069283. Uses the SSE4.2 crc32 instruction when the CPU has it
// (checked once at run time), slicing-by-8 tables otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata::base {

// Continues a CRC: Crc32c(b, Crc32cExtend(0, a)) == Crc32c over a followed by b.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }
inline uint32_t Crc32c(std::string_view s) { return Crc32cExtend(0, s.data(), s.size()); }

}  // namespace strata::base
