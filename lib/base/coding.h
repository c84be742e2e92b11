// Byte-level encodings used by every Prometheus file format (see
// ../shared/formats/tsdb-format.md section 1): big-endian fixed-width integers, unsigned
// LEB128 varints (Go's binary.PutUvarint) and zig-zag signed varints.
//
// Encoder appends to a std::string. Decoder reads a borrowed byte range and never reads out
// of bounds: on truncated or malformed input it latches an error, every later read returns
// 0, and err() says what failed at which offset. Callers check err() once after a group of
// reads, as Prometheus's encoding.Decbuf does.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace strata::base {

inline void PutBE16(std::string* dst, uint16_t v) {
  char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  dst->append(b, 2);
}
inline void PutBE32(std::string* dst, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (24 - 8 * i));
  dst->append(b, 4);
}
inline void PutBE64(std::string* dst, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
  dst->append(b, 8);
}
inline uint16_t LoadBE16(const void* p) {
  const auto* b = static_cast<const uint8_t*>(p);
  return static_cast<uint16_t>((b[0] << 8) | b[1]);
}
inline uint32_t LoadBE32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline uint64_t LoadBE64(const void* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}
inline void StoreBE32(void* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}
inline void StoreBE64(void* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t u) {
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
}

// Writes `v` as an unsigned LEB128 varint into `buf` (at least 10 bytes); returns its length.
inline int EncodeUvarint(uint8_t* buf, uint64_t v) {
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  buf[n++] = static_cast<uint8_t>(v);
  return n;
}
inline void PutUvarint(std::string* dst, uint64_t v) {
  uint8_t buf[10];
  dst->append(reinterpret_cast<const char*>(buf), EncodeUvarint(buf, v));
}
inline void PutVarint(std::string* dst, int64_t v) { PutUvarint(dst, ZigZagEncode(v)); }
inline void PutUvarintStr(std::string* dst, std::string_view s) {
  PutUvarint(dst, s.size());
  dst->append(s);
}
inline int UvarintSize(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Decodes an unsigned varint from [p, end). Returns the number of bytes read, 0 if the input
// ends first, or -1 if the varint is longer than 10 bytes or overflows 64 bits (Go's
// binary.Uvarint rules).
inline int DecodeUvarint(const uint8_t* p, const uint8_t* end, uint64_t* v) {
  uint64_t x = 0;
  unsigned shift = 0;
  for (int i = 0; i < 10; ++i) {
    if (p + i >= end) return 0;
    const uint8_t b = p[i];
    if (b < 0x80) {
      if (i == 9 && b > 1) return -1;
      *v = x | (static_cast<uint64_t>(b) << shift);
      return i + 1;
    }
    x |= static_cast<uint64_t>(b & 0x7f) << shift;
    shift += 7;
  }
  return -1;
}

class Decoder {
 public:
  Decoder() = default;
  explicit Decoder(std::string_view b)
      : begin_(reinterpret_cast<const uint8_t*>(b.data())), p_(begin_), end_(begin_ + b.size()) {}

  // Non-null when a read failed; a static string naming the failure.
  const char* err() const { return err_; }
  bool ok() const { return err_ == nullptr; }
  // Offset of the next byte to read, relative to the start of the range.
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const uint8_t* pos() const { return p_; }

  uint8_t Byte() {
    if (!Need(1)) return 0;
    return *p_++;
  }
  uint16_t BE16() {
    if (!Need(2)) return 0;
    const uint16_t v = LoadBE16(p_);
    p_ += 2;
    return v;
  }
  uint32_t BE32() {
    if (!Need(4)) return 0;
    const uint32_t v = LoadBE32(p_);
    p_ += 4;
    return v;
  }
  uint64_t BE64() {
    if (!Need(8)) return 0;
    const uint64_t v = LoadBE64(p_);
    p_ += 8;
    return v;
  }
  uint64_t Uvarint() {
    if (err_ != nullptr) return 0;
    uint64_t v = 0;
    const int n = DecodeUvarint(p_, end_, &v);
    if (n <= 0) {
      err_ = n == 0 ? "unexpected end of data in varint" : "invalid varint";
      p_ = end_;
      return 0;
    }
    p_ += n;
    return v;
  }
  int64_t Varint() { return ZigZagDecode(Uvarint()); }
  // A uvarint length followed by that many bytes; the view borrows the decoded range.
  std::string_view UvarintStr() {
    const uint64_t n = Uvarint();
    return Bytes(n);
  }
  std::string_view Bytes(uint64_t n) {
    if (!Need(n)) return {};
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  void Skip(uint64_t n) { (void)Bytes(n); }

 private:
  bool Need(uint64_t n) {
    if (err_ != nullptr) return false;
    if (static_cast<uint64_t>(end_ - p_) < n) {
      err_ = "unexpected end of data";
      p_ = end_;
      return false;
    }
    return true;
  }

  const uint8_t* begin_ = nullptr;
  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  const char* err_ = nullptr;
};

}  // namespace strata::base
