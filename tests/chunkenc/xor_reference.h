// Test-only references for the XOR codec.
//
// Writer: a deliberately naive, bit-at-a-time model of Prometheus's tsdb/chunkenc/bstream.go
// (writeBit/writeByte/writeBits with `count` = free bits in the last byte) and
// xorAppender.Append, in both the v2.42.0 and the 3.x form of writeByte. It follows
// upstream's structure operation by operation so that its bytes are upstream's by
// construction; the fast writer in lib/chunkenc is checked against it on every append, and
// both against promtool's blocks (promtool_roundtrip_test.cc).
//
// Reader: RefXorDecode, a bit-at-a-time model of upstream's bstreamReader and
// xorIterator.Next/readValue (identical in 2.42 and 3.x), used to check the batched decoder
// on corrupt and truncated input, where the two must stop at the same sample.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/coding.h"
#include "strata/model/sample.h"

namespace strata::chunkenc::testing {

class RefBstream {
 public:
  explicit RefBstream(bool v2_42) : v2_42_(v2_42) {}

  // Switches the writeByte form from here on (the stream and `count` stay as they are).
  void set_v2_42(bool v2_42) { v2_42_ = v2_42; }

  std::string stream;
  int count = 0;  // free bits in the last byte of `stream`

  void WriteBit(bool bit) {
    if (count == 0) {
      stream.push_back('\0');
      count = 8;
    }
    if (bit) stream.back() = static_cast<char>(stream.back() | (1 << (count - 1)));
    --count;
  }

  void WriteByte(uint8_t byt) {
    if (count == 0) {
      if (!v2_42_) {  // 3.x (PR #14854): an aligned byte is appended as is
        stream.push_back(static_cast<char>(byt));
        return;
      }
      stream.push_back('\0');
      count = 8;
    }
    // Complete the last byte with the high `count` bits, then always append the rest (Go's
    // byte << 8 is 0, so count == 8 appends a zero byte).
    stream.back() = static_cast<char>(static_cast<uint8_t>(stream.back()) | (byt >> (8 - count)));
    stream.push_back(count == 8 ? '\0' : static_cast<char>(static_cast<uint8_t>(byt << count)));
  }

  void WriteBits(uint64_t u, int nbits) {
    u <<= 64 - nbits;
    while (nbits >= 8) {
      WriteByte(static_cast<uint8_t>(u >> 56));
      u <<= 8;
      nbits -= 8;
    }
    while (nbits > 0) {
      WriteBit((u >> 63) == 1);
      u <<= 1;
      --nbits;
    }
  }

 private:
  bool v2_42_;
};

class RefXorAppender {
 public:
  explicit RefXorAppender(bool v2_42) : b_(v2_42) { b_.stream.assign(2, '\0'); }

  const std::string& bytes() const { return b_.stream; }
  // Bits of the stream written so far (after the 2-byte count), and whether it ends with
  // a whole spare zero byte (bstream count == 8).
  size_t stream_bits() const { return (b_.stream.size() - 2) * 8 - static_cast<size_t>(b_.count); }
  bool spare_byte() const { return b_.count == 8; }

  // What upstream's xorChunk.Appender() does to an in-memory chunk (XorAppender::Resume):
  // the bstream continues as it is (here in the given writeByte form), and the value window
  // becomes the decoder's, which starts at (0, 0) rather than unset once a sample exists.
  void Resume(bool v2_42) {
    b_.set_v2_42(v2_42);
    if (base::LoadBE16(b_.stream.data()) > 0 && leading_ == 0xff) {
      leading_ = 0;
      trailing_ = 0;
    }
  }

  void Append(int64_t t, double v) {
    const uint16_t num = base::LoadBE16(b_.stream.data());
    uint64_t tdelta = 0;
    uint8_t buf[10];
    if (num == 0) {
      const int n = base::EncodeUvarint(buf, base::ZigZagEncode(t));
      for (int i = 0; i < n; ++i) b_.WriteByte(buf[i]);
      b_.WriteBits(std::bit_cast<uint64_t>(v), 64);
    } else if (num == 1) {
      tdelta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
      const int n = base::EncodeUvarint(buf, tdelta);
      for (int i = 0; i < n; ++i) b_.WriteByte(buf[i]);
      WriteVDelta(v);
    } else {
      tdelta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
      const auto dod = static_cast<int64_t>(tdelta - tdelta_);
      if (dod == 0) {
        b_.WriteBit(false);
      } else if (BitRange(dod, 14)) {
        b_.WriteBits(0b10, 2);
        b_.WriteBits(static_cast<uint64_t>(dod) & 0x3fff, 14);
      } else if (BitRange(dod, 17)) {
        b_.WriteBits(0b110, 3);
        b_.WriteBits(static_cast<uint64_t>(dod) & 0x1ffff, 17);
      } else if (BitRange(dod, 20)) {
        b_.WriteBits(0b1110, 4);
        b_.WriteBits(static_cast<uint64_t>(dod) & 0xfffff, 20);
      } else {
        b_.WriteBits(0b1111, 4);
        b_.WriteBits(static_cast<uint64_t>(dod), 64);
      }
      WriteVDelta(v);
    }
    t_ = t;
    v_ = v;
    tdelta_ = tdelta;
    const uint16_t n1 = static_cast<uint16_t>(num + 1);
    b_.stream[0] = static_cast<char>(n1 >> 8);
    b_.stream[1] = static_cast<char>(n1 & 0xff);
  }

 private:
  static bool BitRange(int64_t x, int nbits) {
    return -((int64_t{1} << (nbits - 1)) - 1) <= x && x <= (int64_t{1} << (nbits - 1));
  }

  void WriteVDelta(double v) {
    const uint64_t delta = std::bit_cast<uint64_t>(v) ^ std::bit_cast<uint64_t>(v_);
    if (delta == 0) {
      b_.WriteBit(false);
      return;
    }
    b_.WriteBit(true);
    int leading = std::countl_zero(delta);
    const int trailing = std::countr_zero(delta);
    if (leading >= 32) leading = 31;
    if (leading_ != 0xff && leading >= leading_ && trailing >= trailing_) {
      b_.WriteBit(false);
      b_.WriteBits(delta >> trailing_, 64 - leading_ - trailing_);
      return;
    }
    leading_ = leading;
    trailing_ = trailing;
    b_.WriteBit(true);
    b_.WriteBits(static_cast<uint64_t>(leading), 5);
    const int sigbits = 64 - leading - trailing;
    b_.WriteBits(static_cast<uint64_t>(sigbits) & 63, 6);
    b_.WriteBits(delta >> trailing, sigbits);
  }

  RefBstream b_;
  int64_t t_ = 0;
  double v_ = 0;
  uint64_t tdelta_ = 0;
  int leading_ = 0xff;
  int trailing_ = 0;
};

// What RefXorDecode read: the samples before the first failure and, on failure, the index
// of the sample that could not be read and the stream bit (after the 2-byte count) where it
// started. failed_sample is -1 when every sample the header declares was read.
struct RefDecodeResult {
  std::vector<model::Sample> samples;
  int failed_sample = -1;
  size_t failed_bit = 0;
  int total = 0;
};

// Upstream's reader, one bit at a time. Failures: running past the end of the bytes (io.EOF
// in upstream), a varint longer than 10 bytes or overflowing 64 bits (binary.ReadUvarint's
// errOverflow), and one rule of strata's that upstream lacks: a new value window with
// L + S > 64 (no writer produces it; upstream would wrap `trailing` and decode garbage).
// A chunk shorter than its 2-byte count fails at sample 0, bit 0.
inline RefDecodeResult RefXorDecode(std::string_view chunk) {
  RefDecodeResult r;
  if (chunk.size() < 2) {
    r.failed_sample = 0;
    return r;
  }
  r.total = (static_cast<uint8_t>(chunk[0]) << 8) | static_cast<uint8_t>(chunk[1]);
  const std::string_view s = chunk.substr(2);
  const size_t nbits = s.size() * 8;
  size_t pos = 0;
  bool eof = false;
  auto bit = [&]() -> uint64_t {
    if (pos >= nbits) {
      eof = true;
      return 0;
    }
    const uint64_t b = (static_cast<uint8_t>(s[pos / 8]) >> (7 - pos % 8)) & 1;
    ++pos;
    return b;
  };
  auto bits = [&](int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 1) | bit();
    return v;
  };
  // binary.ReadUvarint over readByte; false on EOF or overflow.
  auto uvarint = [&](uint64_t* out) {
    uint64_t x = 0;
    for (int i = 0; i < 10; ++i) {
      const auto b = static_cast<uint8_t>(bits(8));
      if (eof) return false;
      if (b < 0x80) {
        if (i == 9 && b > 1) return false;
        *out = x | (static_cast<uint64_t>(b) << (7 * i));
        return true;
      }
      x |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    }
    return false;
  };
  uint64_t t = 0;
  uint64_t v = 0;
  uint64_t tdelta = 0;
  int leading = 0;
  int trailing = 0;
  for (int n = 0; n < r.total; ++n) {
    const size_t start = pos;
    bool ok = true;
    if (n == 0) {
      uint64_t u = 0;
      ok = uvarint(&u);
      t = static_cast<uint64_t>(base::ZigZagDecode(u));
      v = bits(64);
    } else {
      if (n == 1) {
        ok = uvarint(&tdelta);
      } else {
        int d = 0;
        for (int i = 0; i < 4; ++i) {
          d <<= 1;
          if (bit() == 0) break;
          d |= 1;
        }
        int64_t dod = 0;
        const int sz = d == 0b10 ? 14 : d == 0b110 ? 17 : d == 0b1110 ? 20 : 0;
        if (d == 0b1111) dod = static_cast<int64_t>(bits(64));
        if (sz != 0) {
          uint64_t raw = bits(sz);
          if (raw > (uint64_t{1} << (sz - 1))) raw -= uint64_t{1} << sz;
          dod = static_cast<int64_t>(raw);
        }
        tdelta += static_cast<uint64_t>(dod);
      }
      t += tdelta;
      if (ok && bit() == 1) {
        if (bit() == 1) {
          leading = static_cast<int>(bits(5));
          int mbits = static_cast<int>(bits(6));
          if (mbits == 0) mbits = 64;
          if (leading + mbits > 64) ok = false;
          trailing = 64 - leading - mbits;
        }
        if (ok) {
          const int mbits = 64 - leading - trailing;
          v ^= bits(mbits) << trailing;
        }
      }
    }
    if (!ok || eof) {
      r.failed_sample = n;
      r.failed_bit = start;
      return r;
    }
    r.samples.push_back({static_cast<int64_t>(t), std::bit_cast<double>(v)});
  }
  return r;
}

}  // namespace strata::chunkenc::testing
