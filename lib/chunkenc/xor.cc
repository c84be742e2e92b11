// XOR chunk codec, byte-identical to Prometheus's tsdb/chunkenc/{xor,bstream}.go (v2.42.0 and
// 3.x). Layout and bit codes: ../shared/formats/tsdb-format.md section 5; summary in
// strata/chunkenc/xor.h.
//
// Writer. Prometheus's bstream appends bit by bit and byte by byte; its output is the plain
// MSB-first concatenation of every bit written, zero-padded to a whole byte, except for one
// quirk: bstream.count == 8 (a whole free byte at the end). In 2.42 writeByte leaves count
// unchanged after appending the byte that holds the low bits, so a byte write that starts
// byte-aligned (count 0 or 8) ends with count == 8 and one extra zero byte; the next writeBit
// fills it. 3.0 (PR #14854) appends an aligned byte directly (count stays 0); only its
// count == 8 case (a resumed 2.42 chunk) still appends the zero byte. So the state is
// nbits_ plus whether that spare zero byte follows (the buffer is then one byte longer than
// ceil(nbits_ / 8)); after an Append it does:
//   2.42: if the last primitive write was writeByte and the stream ends byte-aligned.
//         writeBits ends with writeByte iff its width is a multiple of 8; the last field of a
//         sample is sample 0's 64 raw bits or the XOR payload of S bits.
//   3.x:  unchanged by writeByte, cleared by writeBit; every sample after the first writes a
//         bit, so never after samples 1.., as before sample 0.
// Samples from the third on normally take a fast path that writes the code as one or two
// 64-bit words over the partial last byte (see Append); the others build their bits
// (<= 145) in a 64-bit accumulator over a small stack buffer, then patch the partial last
// byte of *buf_ and append the rest. No per-sample allocation beyond std::string growth.
//
// Reader. Position-based: a sample reads 64-bit big-endian words at its bit offset (one load
// + shift gives >= 57 valid bits) and decodes the delta-of-delta prefix by counting leading
// ones. Samples that start at least kMaxSampleSpan bytes before the end cannot reach past
// it, so they are decoded straight from the caller's bytes with no per-sample bounds check;
// the last few come from tail_, a zero-padded copy of the last bytes, with the end position
// of each checked against the stream length, so no load leaves the caller's bytes and
// truncation shows up as a position past the end. Batches of mostly constant samples hand
// their runs of unchanged values to a leaner loop (DecodeRunBody).
#include "strata/chunkenc/xor.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstring>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
// The decode loop is also built with BMI2 and MOVBE and chosen at run time (DecodeBatchBmi2).
#define STRATA_XOR_BMI2_DISPATCH 1
#endif

#include "absl/strings/str_format.h"
#include "base/coding.h"
#include "chunkenc/xor_testing.h"

namespace strata::chunkenc {
namespace {

constexpr size_t kHeaderSize = 2;

// MSB-first bit accumulator over a caller-provided buffer of >= 40 bytes, enough for the
// partial last byte (<= 7 bits) plus one sample (<= 4 + 64 + 2 + 5 + 6 + 64 = 145 bits).
class BitSink {
 public:
  // Starts with the first `used` (0..7) bits of `partial` already in place.
  BitSink(uint8_t* out, uint8_t partial, int used)
      : out_(out), begin_(out), acc_(static_cast<uint64_t>(partial) << 56), free_(64 - used) {}

  // Appends the low `n` (1..64) bits of `v`; bits above n must be zero.
  void Put(uint64_t v, int n) {
    if (n < free_) {
      free_ -= n;
      acc_ |= v << free_;
      return;
    }
    const int spill = n - free_;
    acc_ |= spill == 0 ? v : v >> spill;
    base::StoreBE64(out_, acc_);
    out_ += 8;
    if (spill == 0) {
      acc_ = 0;
      free_ = 64;
    } else {
      free_ = 64 - spill;
      acc_ = v << free_;
    }
  }

  // Flushes the accumulator; returns the number of bits in the buffer (including the
  // initial partial ones).
  size_t Finish() {
    base::StoreBE64(out_, acc_);
    return static_cast<size_t>(out_ - begin_) * 8 + static_cast<size_t>(64 - free_);
  }

 private:
  uint8_t* out_;
  uint8_t* begin_;
  uint64_t acc_;
  int free_;  // free bits at the low end of acc_ (1..64)
};


// Writes the XOR code of `vbits` against `prev` (Prometheus xorWrite). Returns true if the
// code ended with a payload whose width is a multiple of 8 (so bstream's last primitive write
// was writeByte).
inline bool PutXor(BitSink* w, uint64_t vbits, uint64_t prev, uint8_t* leading,
                   uint8_t* trailing) {
  const uint64_t x = vbits ^ prev;
  if (x == 0) {
    w->Put(0, 1);
    return false;
  }
  int lz = std::countl_zero(x);
  const int tz = std::countr_zero(x);
  // 5-bit field: clamp before the window comparison, as upstream does.
  if (lz >= 32) lz = 31;
  if (*leading != 0xff && lz >= *leading && tz >= *trailing) {
    const int sig = 64 - *leading - *trailing;
    w->Put(0b10, 2);
    w->Put(x >> *trailing, sig);
    return sig % 8 == 0;
  }
  *leading = static_cast<uint8_t>(lz);
  *trailing = static_cast<uint8_t>(tz);
  const int sig = 64 - lz - tz;
  // S = 64 is stored as 0 in the 6-bit field (never ambiguous: S = 0 means x == 0).
  w->Put((uint64_t{0b11} << 11) | (static_cast<uint64_t>(lz) << 6) |
             static_cast<uint64_t>(sig & 63),
         13);
  w->Put(x >> tz, sig);
  return sig % 8 == 0;
}

// Appends n bytes to *buf, growing it as an exact append does. Out of line: the growth
// path's allocation code would otherwise cost the fast path's prologue registers.
[[gnu::noinline]] void AppendExact(std::string* buf, const char* bytes, size_t n) {
  buf->append(bytes, n);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// XorAppender

XorAppender::XorAppender(std::string* buf, XorOptions opts) : buf_(buf), opts_(opts) {
  buf_->assign(kHeaderSize, '\0');
}

absl::StatusOr<XorAppender> XorAppender::Resume(std::string* buf, XorOptions opts) {
  XorIterator it(*buf);
  while (it.Next()) {
  }
  if (!it.status().ok()) return it.status();
  XorAppender a;
  a.buf_ = buf;
  a.opts_ = opts;
  a.num_ = it.total_;
  if (a.num_ == 0) {
    a.nbits_ = 0;
    a.leading_ = 0xff;
  } else {
    a.nbits_ = it.pos_bits_;
    a.t_ = static_cast<int64_t>(it.dec_t_);
    a.v_ = it.dec_v_;
    a.tdelta_ = it.tdelta_;
    a.leading_ = it.leading_;
    a.trailing_ = it.trailing_;
  }
  // What follows the last sample must be what Prometheus's bstream would hold: zero padding
  // to the byte boundary plus at most one spare zero byte (count == 8), else appended bits
  // would land after garbage.
  const size_t stream_bytes = buf->size() - kHeaderSize;
  const size_t used_bytes = (a.nbits_ + 7) / 8;
  const auto* s = reinterpret_cast<const uint8_t*>(buf->data()) + kHeaderSize;
  if (stream_bytes > used_bytes + 1 || (stream_bytes == used_bytes + 1 && a.nbits_ % 8 != 0)) {
    return absl::DataLossError(absl::StrFormat(
        "xor chunk: %d unexpected bytes after sample %d at byte offset %d (chunk is %d bytes)",
        stream_bytes - used_bytes, a.num_, kHeaderSize + used_bytes, buf->size()));
  }
  const int pad = static_cast<int>(used_bytes * 8 - a.nbits_);
  const bool dirty_pad = pad > 0 && (s[used_bytes - 1] & ((1u << pad) - 1)) != 0;
  const bool dirty_extra = stream_bytes == used_bytes + 1 && s[used_bytes] != 0;
  if (dirty_pad || dirty_extra) {
    return absl::DataLossError(absl::StrFormat(
        "xor chunk: non-zero padding after sample %d at byte offset %d (chunk is %d bytes)",
        a.num_, kHeaderSize + (dirty_pad ? used_bytes - 1 : used_bytes), buf->size()));
  }
  return a;
}

// Fast paths. They take every sample from the third on whose delta-of-delta is `0` or `10` +
// 14 bits (|dod| <= 8.19 s: any scrape jitter) when the buffer has 16 bytes of spare
// capacity: nearly every sample of real series (see BENCHMARKS.md). Such a sample's code is
// at most 16 + 13 + 64 = 93 bits; with the partial last byte's <= 7 bits it fits two 64-bit
// words. The chunk is first extended by 16 zero bytes (a constant-size append is a plain
// copy: std::string is inline in C++20), the code is stored as two big-endian words from the
// partial last byte on, and the string is cut back to the chunk's length, all within
// capacity: no loop, no call, no growth code. Everything else goes to AppendSlow.
//
// Append itself finishes samples with an unchanged value (77% of real samples) and passes
// the others to AppendChanged: on its own, the common path keeps few enough values live to
// save and restore one register (gcc 12) instead of six.

namespace {

// Chunks are far smaller (65535 samples of <= 19 bytes); the bound lets the compiler drop
// append()'s max_size() test.
constexpr size_t kMaxFastSize = size_t{1} << 30;

// Prometheus's bitRange(dod, 14): -8191 <= dod <= 2^13.
inline bool DodFits14(uint64_t udod) { return udod + 8191 < (uint64_t{1} << 14); }

// Extends *buf by 16 zero bytes. Requires: 16 bytes of spare capacity, tested by the caller
// as append() tests it (size + n > capacity), so that the compiler drops append's growth
// path.
[[gnu::always_inline]] inline void AppendSpare16(std::string* buf) {
  static constexpr char kZeros[16] = {};
  buf->append(kZeros, sizeof(kZeros));
}

// `0` (dod 0) or `10` + 14 bits (its bits, length), chosen without a branch: jittery
// timestamps make it irregular.
struct DodCode {
  uint64_t bits;
  int len;
};
[[gnu::always_inline]] inline DodCode Dod14(uint64_t udod) {
  const uint64_t nz = 0 - static_cast<uint64_t>(udod != 0);
  return {((uint64_t{0b10} << 14) | (udod & 0x3fff)) & nz, 1 + static_cast<int>(nz & 15)};
}

// Writes the sample's code into *buf after AppendSpare16: hi and lo are its bits, MSB
// first, from the first free bit of stream byte nbits0 / 8 (the partial last byte, 2.42's
// spare zero byte, or the first appended zero byte; its free bits are zero, and hi's bits
// over its used ones are zero). Cuts *buf to the chunk of `nbits` stream bits and sets the
// sample count. kLo: whether lo may be non-zero (else the appended zeros stay).
template <bool kLo>
[[gnu::always_inline]] inline void PutCode(std::string* buf, uint64_t nbits0, uint64_t nbits,
                                           uint64_t hi, uint64_t lo, int num) {
  char* d = buf->data();
  char* p = d + kHeaderSize + (nbits0 >> 3);
  base::StoreBE64(p, hi | (static_cast<uint64_t>(static_cast<uint8_t>(*p)) << 56));
  if constexpr (kLo) base::StoreBE64(p + 8, lo);
  const auto count = static_cast<uint16_t>(__builtin_bswap16(static_cast<uint16_t>(num)));
  std::memcpy(d, &count, sizeof(count));
  buf->erase(kHeaderSize + static_cast<size_t>((nbits + 7) >> 3));
}

}  // namespace

void XorAppender::Append(int64_t t, double v) {
  const uint64_t vbits = std::bit_cast<uint64_t>(v);
  // Deltas are uint64 as upstream (int64 overflow wraps there).
  const uint64_t tdelta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
  const uint64_t udod = tdelta - tdelta_;
  std::string* buf = buf_;
  const size_t size = buf->size();
  if (num_ < 2 || !DodFits14(udod) || size > kMaxFastSize || size + 16 > buf->capacity())
      [[unlikely]] {
    return AppendSlow(t, vbits);
  }
  AppendSpare16(buf);
  // The stores follow the append, so that they cannot keep the compiler from reusing the
  // capacity test.
  t_ = t;
  tdelta_ = tdelta;
  if (vbits != v_) return AppendChanged(vbits, udod);
  const DodCode dod = Dod14(udod);
  // The dod code and the value's `0`: at most 7 + 17 bits, all in hi. No spare zero byte
  // follows in either form: the last write is a writeBit.
  const uint64_t nbits0 = nbits_;
  const int len = dod.len + 1;
  const uint64_t nbits = nbits0 + static_cast<uint64_t>(len);
  nbits_ = nbits;
  const int num = ++num_;
  PutCode<false>(buf, nbits0, nbits,
                 (dod.bits << 1) << (64 - static_cast<int>(nbits0 & 7) - len), 0, num);
}

void XorAppender::AppendChanged(uint64_t vbits, uint64_t udod) {
  std::string* buf = buf_;
  const uint64_t x = vbits ^ v_;
  v_ = vbits;
  const DodCode dod = Dod14(udod);
  // The value's code (Prometheus xorWrite). 5-bit field: clamp before the window
  // comparison, as upstream does. leading_ == 0xff (no window yet) fails the comparison, as
  // lz <= 31. The window choice flips irregularly in changing series. x != 0 here, so the
  // builtins need no zero check.
  const int lz = std::min(__builtin_clzll(x), 31);
  const int tz = __builtin_ctzll(x);
  const int lead0 = leading_;
  const int trail0 = trailing_;
  const bool reuse = lz >= lead0 && tz >= trail0;
  const int lead = reuse ? lead0 : lz;
  const int trail = reuse ? trail0 : tz;
  leading_ = static_cast<uint8_t>(lead);
  trailing_ = static_cast<uint8_t>(trail);
  const int sig = 64 - lead - trail;
  // `10`, or `11` + L(5) + S(6) with S = 64 stored as 0 (never ambiguous: S = 0 means
  // x == 0).
  const uint64_t new_head = (uint64_t{0b11} << 11) | (static_cast<uint64_t>(lead) << 6) |
                            static_cast<uint64_t>(sig & 63);
  const int head_len = reuse ? 2 : 13;
  const uint64_t head = (dod.bits << head_len) | (reuse ? uint64_t{0b10} : new_head);
  const uint64_t nbits0 = nbits_;
  const int a = static_cast<int>(nbits0 & 7) + dod.len + head_len;  // 3 .. 7 + 16 + 13
  const uint64_t nbits = nbits0 + static_cast<uint64_t>(dod.len + head_len + sig);
  nbits_ = nbits;
  const int num = ++num_;
  // The payload top-aligned: x's bits above the window are zero (lead <= clz(x)), and below
  // it too (trail <= ctz(x)). Placed after bit a, it spills into lo when a + sig > 64.
  const uint64_t payload = x << lead;
  PutCode<true>(buf, nbits0, nbits, (head << (64 - a)) | (payload >> a), payload << (64 - a),
                num);
  // 2.42: a payload of 8k bits (its last write a writeByte) that ends byte-aligned leaves
  // the spare zero byte. 3.x: the dod code is a writeBit, which consumes any spare byte.
  if (opts_.prometheus_2_42 && nbits % 8 == 0 && sig % 8 == 0) [[unlikely]] {
    AppendExact(buf, "", 1);
  }
}

void XorAppender::AppendSlow(int64_t t, uint64_t vbits) {
  std::string& buf = *buf_;
  // A spare zero byte after the stream (2.42's count == 8): the first new bits go into it.
  const bool extra = buf.size() - kHeaderSize > (nbits_ + 7) / 8;
  if (extra) buf.pop_back();
  const int used = static_cast<int>(nbits_ & 7);
  const size_t last = kHeaderSize + nbits_ / 8;  // index of the partial byte, if used > 0
  uint8_t tmp[48];
  BitSink w(tmp, used > 0 ? static_cast<uint8_t>(buf[last]) : 0, used);
  bool ends_with_byte;
  uint64_t tdelta = 0;
  if (num_ == 0) {
    uint8_t vb[10];
    const int n = base::EncodeUvarint(vb, base::ZigZagEncode(t));
    for (int i = 0; i < n; ++i) w.Put(vb[i], 8);
    w.Put(vbits, 64);
    ends_with_byte = true;
  } else if (num_ == 1) {
    tdelta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
    uint8_t vb[10];
    const int n = base::EncodeUvarint(vb, tdelta);
    for (int i = 0; i < n; ++i) w.Put(vb[i], 8);
    ends_with_byte = PutXor(&w, vbits, v_, &leading_, &trailing_);
  } else {
    tdelta = static_cast<uint64_t>(t) - static_cast<uint64_t>(t_);
    const auto dod = static_cast<int64_t>(tdelta - tdelta_);
    const auto udod = static_cast<uint64_t>(dod);
    // Prometheus's bitRange(dod, w): -(2^(w-1) - 1) <= dod <= 2^(w-1), i.e. dod + 2^(w-1) - 1
    // in 0 .. 2^w - 1.
    if (udod + 524287 < (uint64_t{1} << 20)) {
      const bool in14 = udod + 8191 < (uint64_t{1} << 14);
      const bool in17 = udod + 65535 < (uint64_t{1} << 17);
      const int width = dod == 0 ? 0 : in14 ? 14 : in17 ? 17 : 20;
      const uint64_t prefix = dod == 0 ? 0 : in14 ? 0b10 : in17 ? 0b110 : 0b1110;
      const int plen = dod == 0 ? 1 : in14 ? 2 : in17 ? 3 : 4;
      w.Put((prefix << width) | (udod & ((uint64_t{1} << width) - 1)), plen + width);
    } else {
      w.Put(0b1111, 4);
      w.Put(udod, 64);
    }
    ends_with_byte = PutXor(&w, vbits, v_, &leading_, &trailing_);
  }
  const size_t bits = w.Finish();  // includes the `used` bits already in buf[last]
  const size_t nbytes = (bits + 7) / 8;
  if (used > 0) {
    buf[last] = static_cast<char>(tmp[0]);
    buf.append(reinterpret_cast<const char*>(tmp) + 1, nbytes - 1);
  } else {
    buf.append(reinterpret_cast<const char*>(tmp), nbytes);
  }
  nbits_ += bits - static_cast<size_t>(used);
  // The spare byte after this sample (see the top of this file): 2.42 when its last write
  // was an aligned writeByte; 3.x keeps it through sample 0 (whole bytes) only.
  const bool extra_after =
      opts_.prometheus_2_42 ? ends_with_byte && nbits_ % 8 == 0 : num_ == 0 && extra;
  if (extra_after) buf.push_back('\0');
  t_ = t;
  v_ = vbits;
  tdelta_ = tdelta;
  ++num_;
  buf[0] = static_cast<char>(static_cast<uint16_t>(num_) >> 8);
  buf[1] = static_cast<char>(num_ & 0xff);
}

// ---------------------------------------------------------------------------------------
// XorIterator

void XorIterator::Reset(std::string_view chunk) {
  chunk_size_ = chunk.size();
  pos_bits_ = 0;
  decoded_ = 0;
  dec_t_ = 0;
  dec_v_ = 0;
  tdelta_ = 0;
  leading_ = 0;
  trailing_ = 0;
  mbits_ = 64;
  batch_i_ = 0;
  batch_n_ = 0;
  done_ = false;
  pending_err_ = nullptr;
  err_ = nullptr;
  err_offset_ = 0;
  err_sample_ = 0;
  if (chunk.size() < kHeaderSize) {
    std::memset(tail_, 0, sizeof(tail_));
    data_ = nullptr;
    size_ = 0;
    nbits_ = 0;
    total_ = 0;
    tail_start_ = 0;
    fast_end_ = 0;
    err_ = "shorter than the 2-byte sample count";
    return;
  }
  const auto* b = reinterpret_cast<const uint8_t*>(chunk.data());
  total_ = base::LoadBE16(b);
  data_ = b + kHeaderSize;
  size_ = chunk.size() - kHeaderSize;
  nbits_ = size_ * 8;
  tail_start_ = size_ > kTailCopy ? size_ - kTailCopy : 0;
  fast_end_ = size_ >= kMaxSampleSpan ? (size_ - kMaxSampleSpan + 1) * 8 : 0;
  // Fixed-size copies (inlined as a few vector moves) in the common case of a stream of at
  // least kTailCopy bytes; the zero padding is what makes loads past the end read zeros.
  if (size_ >= kTailCopy) [[likely]] {
    std::memcpy(tail_, data_ + tail_start_, kTailCopy);
    std::memset(tail_ + kTailCopy, 0, kTailPad);
  } else {
    std::memset(tail_, 0, sizeof(tail_));
    if (size_ > 0) std::memcpy(tail_, data_, size_);
  }
}

inline uint64_t XorIterator::Peek(size_t pos) const {
  const size_t byte = pos >> 3;
  const uint8_t* p;
  if (byte + 8 <= size_) [[likely]] {
    p = data_ + byte;
  } else {
    // byte >= tail_start_ here (tail_start_ <= size_ - 8). The clamp keeps even a wild
    // position inside tail_.
    p = tail_ + std::min(byte - tail_start_, kTailCopy + kTailPad - 8);
  }
  return base::LoadBE64(p) << (pos & 7);
}

inline uint64_t XorIterator::ReadBits(size_t pos, int nbits) const {
  if (nbits <= 57) return Peek(pos) >> (64 - nbits);
  const uint64_t hi = Peek(pos) >> 32;
  const int lo_bits = nbits - 32;
  return (hi << lo_bits) | (Peek(pos + 32) >> (64 - lo_bits));
}

void XorIterator::Fail(const char* what, size_t pos_bits, int sample) {
  pending_err_ = what;
  err_sample_ = sample;
  err_offset_ = kHeaderSize + pos_bits / 8;
}

absl::Status XorIterator::status() const {
  if (err_ == nullptr) return absl::OkStatus();
  if (data_ == nullptr) {
    return absl::DataLossError(
        absl::StrFormat("xor chunk: %d bytes, %s", chunk_size_, err_));
  }
  return absl::DataLossError(
      absl::StrFormat("xor chunk: sample %d of %d at byte offset %d: %s (chunk is %d bytes)",
                      err_sample_, total_, err_offset_, err_, chunk_size_));
}

namespace {

// The uvarint at p if it has at most 8 bytes: its length (1..8), with the value in *v; 0 if
// it is longer (left to base::DecodeUvarint, which also reports the invalid ones). Reads 8
// bytes. The host is little-endian (as base/coding.h assumes); the 7-bit groups are packed
// by three rounds of masks and shifts instead of a loop over bytes.
inline int FastUvarint8(const uint8_t* p, uint64_t* v) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  const uint64_t stop = ~x & 0x8080808080808080;  // bytes without the continuation bit
  if (stop == 0) return 0;
  const int len = std::countr_zero(stop) / 8 + 1;
  if (len < 8) x &= (uint64_t{1} << (8 * len)) - 1;
  x = ((x & 0x7f007f007f007f00) >> 1) | (x & 0x007f007f007f007f);
  x = ((x & 0x3fff00003fff0000) >> 2) | (x & 0x00003fff00003fff);
  x = ((x & 0x0fffffff00000000) >> 4) | (x & 0x000000000fffffff);
  *v = x;
  return len;
}

}  // namespace

// Samples 0 and 1 of a chunk whose stream has >= kFastHeadBytes bytes, without bounds
// checks: with both varints at most 8 bytes, sample 1's code starts by byte 24 and ends by
// byte 34 (13 control bits and a 64-bit payload), and its loads end by byte 37 (the
// payload's second word). False, with nothing changed, when a varint is longer or the value
// window is invalid: DecodeHead then decodes (and reports) them.
bool XorIterator::DecodeHeadFast() {
  uint64_t u0 = 0;
  const int len0 = FastUvarint8(data_, &u0);
  if (len0 == 0) return false;
  const uint64_t v0 = base::LoadBE64(data_ + len0);
  uint64_t d = 0;
  const int len1 = FastUvarint8(data_ + len0 + 8, &d);
  if (len1 == 0) return false;
  size_t pos = static_cast<size_t>(len0 + 8 + len1) * 8;
  const uint64_t w = base::LoadBE64(data_ + len0 + 8 + len1);  // byte-aligned
  uint64_t v1 = v0;
  if (!DecodeFirstValueCode(w, &pos, &v1)) return false;
  const uint64_t t0 = static_cast<uint64_t>(base::ZigZagDecode(u0));
  dec_t_ = t0 + d;
  dec_v_ = v1;
  tdelta_ = d;
  pos_bits_ = pos;
  batch_[0] = static_cast<int64_t>(t0);
  batch_[kBatch] = static_cast<int64_t>(v0);
  batch_[1] = static_cast<int64_t>(dec_t_);
  batch_[kBatch + 1] = static_cast<int64_t>(v1);
  return true;
}

bool XorIterator::DecodeFirstValueCode(uint64_t w, size_t* pos, uint64_t* v) {
  if ((w >> 63) == 0) {
    *pos += 1;
    return true;
  }
  size_t p = *pos;
  if ((w >> 62) == 0b11) {
    const int lead = static_cast<int>((w >> 57) & 31);
    const int m = static_cast<int>(((w >> 51) - 1) & 63) + 1;  // S = 64 is stored as 0
    if (lead + m > 64) return false;
    leading_ = static_cast<uint8_t>(lead);
    trailing_ = static_cast<uint8_t>(64 - lead - m);
    mbits_ = static_cast<uint8_t>(m);
    p += 13;
  } else {
    p += 2;
  }
  // mbits_ is 64 for `10` at sample 1 (the initial window); ReadBits takes 1..64.
  *v ^= ReadBits(p, mbits_) << trailing_;
  *pos = p + mbits_;
  return true;
}

// Samples 0 and 1: whole-byte varints at byte-aligned positions (sample 0 is whole bytes),
// then v0 raw or the first XOR code. Not hot: once per chunk.
bool XorIterator::DecodeHead(int want, int* n) {
  while (decoded_ + *n < 2 && *n < want) {
    const size_t start = pos_bits_;
    const size_t byte = start / 8;
    uint64_t u = 0;
    const int len = base::DecodeUvarint(data_ + byte, data_ + size_, &u);
    if (len <= 0) {
      Fail(len == 0 ? "unexpected end of data in timestamp varint" : "invalid timestamp varint",
           start, decoded_ + *n);
      return false;
    }
    size_t pos = (byte + static_cast<size_t>(len)) * 8;
    if (decoded_ + *n == 0) {
      dec_t_ = static_cast<uint64_t>(base::ZigZagDecode(u));
      dec_v_ = ReadBits(pos, 64);
      pos += 64;
    } else {
      tdelta_ = u;
      dec_t_ += tdelta_;
      if (!DecodeFirstValueCode(Peek(pos), &pos, &dec_v_)) {
        Fail("leading zeros plus significant bits exceed 64", start, decoded_ + *n);
        return false;
      }
    }
    if (pos > nbits_) {
      Fail("unexpected end of data", start, decoded_ + *n);
      return false;
    }
    pos_bits_ = pos;
    batch_[*n] = static_cast<int64_t>(dec_t_);
    batch_[kBatch + *n] = static_cast<int64_t>(dec_v_);
    ++*n;
  }
  return true;
}

namespace {

// Decoder state between runs: what Prometheus's xorIterator keeps, plus the bit position.
struct DecodeState {
  size_t pos;
  uint64_t t;
  uint64_t v;
  uint64_t tdelta;
  int trailing;
  int mbits;
};

// Where a run stopped on corrupt data: what, the stream bit where the sample started, and
// its index in the batch. what == nullptr: no failure.
struct RunFailure {
  const char* what = nullptr;
  size_t pos = 0;
  int n = 0;
};

// 64 bits at bit `pos` of the stream read through `p`, of which the first 64 - pos % 8
// (>= 57) are valid. Requires: 8 readable bytes at p + pos / 8.
[[gnu::always_inline]] inline uint64_t LoadBits(const uint8_t* p, size_t pos) {
  return base::LoadBE64(p + (pos >> 3)) << (pos & 7);
}

// The `n` (1..64) bits at bit `pos`, right-aligned. Requires: readable bytes up to
// p + (pos + 32) / 8 + 8.
[[gnu::always_inline]] inline uint64_t LoadN(const uint8_t* p, size_t pos, int n) {
  if (n <= 57) [[likely]] return LoadBits(p, pos) >> (64 - n);
  const int lo = n - 32;
  return ((LoadBits(p, pos) >> 32) << lo) | (LoadBits(p, pos + 32) >> (64 - lo));
}

// Entries per batch (XorIterator::kBatch, checked in Refill): a batch array holds the
// timestamps, then the value bits.
constexpr ptrdiff_t kBatchSize = 64;

// Decoder state handed to and from a constant run (DecodeRunBody).
struct RunState {
  size_t pos;      // stream bit position, relative to the bytes the run reads
  uint64_t word;   // >= 57 valid bits from pos
  uint64_t t;
  uint64_t tdelta;
};

// Decodes a run of samples that repeat the previous value with a `0` or `10` + 14-bit dod
// code: constant series (77% of real ones), whose every sample is `00` or `10` + 14 bits +
// `0`. Fills batch entries k.. (negative, as in DecodeLoop: te[k] the timestamp,
// te[kBatchSize + k] the value bits `v`) three per round; returns the next entry, with *rs
// after the last sample decoded. Stops before a round that holds any other code or does not
// fit the batch, leaving that sample to the caller; near the end (kTail) also before a round
// that would end past `lim`, and away from it (!kTail) before a round that starts at or past
// `lim`.
//
// About a quarter fewer instructions per sample than DecodeLoop (callgrind, BENCHMARKS.md): a
// round reads its three codes from one word by shifts alone and tests all three at once,
// decoded speculatively (timestamps stored past the committed entries are overwritten
// later). The next round's word is this one shifted, ORed with the 8 bytes after those it
// was loaded from (a load whose address is known at the round's start, so off the chain
// from one code to the next): in the stream (a round away from the end starts before `lim`,
// kMaxSampleSpan bytes from it) or in the tail padding.
template <bool kTail>
[[gnu::always_inline]] inline ptrdiff_t DecodeRunBody(const uint8_t* p, size_t lim, uint64_t v,
                                                      int64_t* te, ptrdiff_t k,
                                                      RunState* rs) {
  size_t pos = rs->pos;
  uint64_t w = rs->word;
  // Decoded speculatively, round by round; *rs keeps the values as of the last committed
  // round (rather than a second copy in registers: the loop has few to spare).
  uint64_t t = rs->t;
  uint64_t tdelta = rs->tdelta;
  while (k <= -3) {
    if constexpr (!kTail) {
      if (pos >= lim) break;
    }
    uint64_t bad = 0;   // sign bit: a code that is not a run code
    uint64_t bits = 6;  // the round's length: 2 per code, 15 more per `10`
    for (int j = 0; j < 3; ++j) {
      // As in DecodeLoop: `0` (top = 0) or `10` + 14 bits (top = all ones).
      const auto top = static_cast<uint64_t>(static_cast<int64_t>(w) >> 63);
      const uint64_t sh = top & 15;
      const uint64_t w1 = w << 1;
      const uint64_t y = (w1 << 1) - (uint64_t{1} << 50);
      tdelta += (static_cast<uint64_t>(static_cast<int64_t>(y) >> 50) + 1) & top;
      t += tdelta;
      te[k + j] = static_cast<int64_t>(t);
      // A run code's second bit and its last (the value bit: the same bit for `00`) are 0.
      const uint64_t last = w1 << sh;
      bad |= w1 | last;
      bits += sh;
      w = last << 1;
    }
    if (static_cast<int64_t>(bad) < 0 || (kTail && pos + bits > lim)) {
      w = LoadBits(p, pos);  // *rs has t and tdelta as before the round
      break;
    }
    rs->t = t;
    rs->tdelta = tdelta;
    te[kBatchSize + k] = static_cast<int64_t>(v);
    te[kBatchSize + k + 1] = static_cast<int64_t>(v);
    te[kBatchSize + k + 2] = static_cast<int64_t>(v);
    k += 3;
    // The 8 bytes after those w was loaded from start 64 - pos % 8 bits after pos; w has
    // the 57 - bits or more valid bits before them (its bits past its valid ones are zero or
    // the same stream bits).
    w |= base::LoadBE64(p + (pos >> 3) + 8) >> (64 - (pos & 7) - bits);
    pos += bits;
  }
  rs->pos = pos;
  rs->word = w;
  return k;
}

// Out of line, so that DecodeLoop's own state is saved around a run rather than crowding
// the run's registers. One per build of the decode loop (see DecodeBatchBmi2).
template <bool kTail>
[[gnu::noinline]] ptrdiff_t DecodeRunBaseline(const uint8_t* p, size_t lim, uint64_t v,
                                              int64_t* te, ptrdiff_t k,
                                              RunState* rs) {
  return DecodeRunBody<kTail>(p, lim, v, te, k, rs);
}
#ifdef STRATA_XOR_BMI2_DISPATCH
template <bool kTail>
__attribute__((target("bmi,bmi2,lzcnt,movbe"), noinline)) ptrdiff_t DecodeRunBmi2(
    const uint8_t* p, size_t lim, uint64_t v, int64_t* te, ptrdiff_t k,
    RunState* rs) {
  return DecodeRunBody<kTail>(p, lim, v, te, k, rs);
}
#endif

// DecodeRunBody's build for DecodeLoop's (kBmi2).
template <bool kTail, bool kBmi2>
[[gnu::always_inline]] inline ptrdiff_t DecodeRun(const uint8_t* p, size_t lim, uint64_t v,
                                                  int64_t* te, ptrdiff_t k, RunState* rs) {
#ifdef STRATA_XOR_BMI2_DISPATCH
  if constexpr (kBmi2) return DecodeRunBmi2<kTail>(p, lim, v, te, k, rs);
#endif
  return DecodeRunBaseline<kTail>(p, lim, v, te, k, rs);
}

// Whether the code at the top of `w` is a run code (DecodeRunBody's per-code test): `00`, or
// `10` + 14 bits + `0`.
[[gnu::always_inline]] inline bool IsRunCode(uint64_t w) {
  const uint64_t w1 = w << 1;
  const uint64_t sh = static_cast<uint64_t>(static_cast<int64_t>(w) >> 63) & 15;
  return static_cast<int64_t>(w1 | (w1 << sh)) >= 0;
}

// The hot loop: decodes batch entries n.. (up to `want`) into bt (timestamps, then value bits
// kBatchSize entries on) from the stream read through `p`, which holds the stream from bit
// `base_bits` (a multiple of 8) on. kTail: the samples near the end, whose end position is
// checked against `limit` (the stream length); otherwise samples starting before bit
// `limit`, which cannot reach past the stream. Returns the new batch size; on corrupt data
// fills *fail and stops. kBmi2: built for BMI2 (calls DecodeRunBody's BMI2 build). kRuns: a
// batch of mostly constant samples, whose runs of unchanged values go to DecodeRunBody.
//
// What limits it is the chain from one sample's bit position to the next: the position of
// sample n + 1 depends on the code lengths read at sample n. The chain is kept to a few
// single-cycle operations for the codes real series consist of (measured on Prometheus's own
// WAL, BENCHMARKS.md): a dod of 0 or one within +-8191 ms (`0` or `10` + 14 bits: scrape
// jitter), followed by an unchanged value (`0`: 77% of real series are constant over a chunk).
//  - `word` holds >= 57 valid bits from the sample's start, loaded after the previous sample.
//    `w` holds the bits from the sample's start too, but is derived from the previous
//    sample's word by a shift, so the next sample's `0`/`10` code does not wait for a load
//    whose address depends on this sample's length. w needs only 17 valid bits (`10`, 14
//    bits, the value bit); the wider dods, a changed value's control bits and a 64-bit dod
//    read word, and a changed value or a 64-bit dod sets w from the next word.
//  - `0`/`10` is told apart by the sign bit and decoded with masks (jittery timestamps make
//    it irregular); the rare wider dods, a changed value and a new value window branch, and
//    those mostly follow the series (a counter's value changes at most scrapes, a
//    constant's never).
//  - After an unchanged value, the run that follows goes to DecodeRunBody (kRuns), or else the
//    next sample is decoded in the same round if it is unchanged too (see below).
template <bool kTail, bool kBmi2, bool kRuns>
[[gnu::always_inline]] inline int DecodeLoop(const uint8_t* p, size_t base_bits, size_t limit,
                                             int n, int want, DecodeState* st, int64_t* bt,
                                             RunFailure* fail) {
  size_t pos = st->pos - base_bits;
  const size_t lim = limit - base_bits;
  uint64_t t = st->t;
  uint64_t v = st->v;
  uint64_t tdelta = st->tdelta;
  int trailing = st->trailing;
  int mbits = st->mbits;
  // Entries are addressed from the batch end with a negative index, so that one register
  // both counts and addresses.
  int64_t* const te = bt + want;
  ptrdiff_t i = n - want;
  // Callers only enter with a sample to decode that starts where loads are safe.
  // word: >= 57 valid bits from the sample's start (the value's control bits, at most
  // 24 + 13 bits in, for this sample; w for the next one). Loaded at the end of the previous
  // sample, where a changed value takes w from it too.
  uint64_t word = LoadBits(p, pos);
  uint64_t w = word;
  while (i < 0) {
    if constexpr (!kTail) {
      if (pos >= lim) break;
    }
    const size_t start = pos;
    uint64_t c;  // dod code length
    if (w < (uint64_t{0b11} << 62)) [[likely]] {
      // `0`: dod 0; `10` + 14 bits. Prometheus reads a k-bit field as raw <= 2^(k-1) ? raw :
      // raw - 2^k, which is sign_extend(raw - 1 mod 2^k) + 1: subtract 1 at the field's
      // lowest bit (a borrow wraps within the top-aligned field), shift arithmetically, add
      // 1. For `0` the mask (all ones iff the top bit is set) discards the result.
      const auto top = static_cast<uint64_t>(static_cast<int64_t>(w) >> 63);
      const uint64_t y = (w << 2) - (uint64_t{1} << 50);
      tdelta += (static_cast<uint64_t>(static_cast<int64_t>(y) >> 50) + 1) & top;
      c = (top & 15) + 1;
    } else if (w < (uint64_t{0b1111} << 60)) {
      // `110` + 17 bits or `1110` + 20 bits, read from word: w may hold fewer than the 25
      // bits this code and the value bit take.
      w = word;
      const uint64_t e = (w >> 61) & 1;
      const uint64_t plen = 3 + e;
      const uint64_t sh = 47 - 3 * e;  // 64 - field width
      const uint64_t y = (w << plen) - (uint64_t{1} << sh);
      tdelta += static_cast<uint64_t>(static_cast<int64_t>(y) >> sh) + 1;
      c = plen + 64 - sh;
    } else {
      // `1111` + 64 bits: restart the words after it.
      tdelta += LoadN(p, pos + 4, 64);
      pos += 68;
      word = LoadBits(p, pos);
      w = word;
      c = 0;
    }
    t += tdelta;
    const bool unchanged = static_cast<int64_t>(w << c) >= 0;  // `0`
    if (unchanged) [[likely]] {
      pos += c + 1;
      if constexpr (kRuns) {
        word = LoadBits(p, pos);
        w = word;
      } else {
        w = word << (c + 1);
        // Runs of unchanged values (constant series): when this sample was `0`/`10` (c <= 16:
        // w keeps >= 39 valid bits) and the next one is `0`/`10` with an unchanged value too,
        // decode it here from w, saving its load and a loop round. Afterwards w keeps >= 21
        // valid bits, enough for the next `0`/`10` code and its value bit (the wider codes
        // read word). Away from the end it ends within 36 bits of a sample that started
        // before `limit`, so inside the stream; near it (kTail) both samples must end by
        // `limit`, else the next round decodes the second one with its own check.
        const auto top2 = static_cast<uint64_t>(static_cast<int64_t>(w) >> 63);
        const uint64_t c2 = (top2 & 15) + 1;
        if (i + 1 < 0 && c <= 16 && w < (uint64_t{0b11} << 62) &&
            static_cast<int64_t>(w << c2) >= 0 && (!kTail || pos + c2 + 1 <= lim)) {
          te[i] = static_cast<int64_t>(t);
          te[kBatchSize + i] = static_cast<int64_t>(v);
          ++i;
          const uint64_t y2 = (w << 2) - (uint64_t{1} << 50);
          tdelta += (static_cast<uint64_t>(static_cast<int64_t>(y2) >> 50) + 1) & top2;
          t += tdelta;
          pos += c2 + 1;
          w <<= c2 + 1;
        }
        word = LoadBits(p, pos);
      }
    } else {
      // `10`: the previous window; `11` + L(5) + S(6): a new one. A branch: which one a
      // series writes mostly follows its shape, and the masks to avoid it cost more (in
      // interleaved runs the branch decoded changing series 10-20% faster).
      const uint64_t x = word << c;
      size_t payload = pos + c + 2;
      if (static_cast<int64_t>(x << 1) < 0) {
        const int lead = static_cast<int>((x >> 57) & 31);
        const int m = static_cast<int>(((x >> 51) - 1) & 63) + 1;  // S = 64 is stored as 0
        if (lead + m > 64) [[unlikely]] {
          // No Prometheus writer produces this (L = min(clz, 31), S = 64 - L - T); its
          // reader would silently decode a zero XOR from it.
          *fail = {"leading zeros plus significant bits exceed 64", base_bits + start,
                   want + static_cast<int>(i)};
          break;
        }
        trailing = 64 - lead - m;
        mbits = m;
        payload += 11;
      }
      v ^= LoadN(p, payload, mbits) << trailing;
      pos = payload + static_cast<size_t>(mbits);
      word = LoadBits(p, pos);
      w = word;
    }
    if constexpr (kTail) {
      if (pos > lim) [[unlikely]] {
        *fail = {"unexpected end of data", base_bits + start, want + static_cast<int>(i)};
        break;
      }
    }
    te[i] = static_cast<int64_t>(t);
    te[kBatchSize + i] = static_cast<int64_t>(v);
    ++i;
    if constexpr (kRuns) {
      // In a batch of mostly constant runs, an unchanged value may start one; decode it
      // there when the next sample is a run code too (see DecodeRunBody): in a mostly idle
      // counter an unchanged value is often followed by a changed one.
      if (unchanged && i <= -3 && IsRunCode(word)) {
        RunState rs{pos, word, t, tdelta};
        i = DecodeRun<kTail, kBmi2>(p, lim, v, te, i, &rs);
        pos = rs.pos;
        word = rs.word;
        w = word;
        t = rs.t;
        tdelta = rs.tdelta;
      }
    }
  }
  st->pos = pos + base_bits;
  st->t = t;
  st->v = v;
  st->tdelta = tdelta;
  st->trailing = trailing;
  st->mbits = mbits;
  return want + static_cast<int>(i);
}

// Decodes batch entries n.. (up to `want`): the samples far from the end straight from the
// caller's bytes, then those near it from the zero-padded tail copy. One call per batch, so
// that the dispatch below costs one indirect call rather than a CPU check and a call per run.
template <bool kBmi2, bool kRuns>
[[gnu::always_inline]] inline int DecodeBatchAs(const uint8_t* data, size_t fast_end,
                                                const uint8_t* tail, size_t tail_bits,
                                                size_t nbits, int n, int want, DecodeState* st,
                                                int64_t* bt, RunFailure* fail) {
  if (n < want && st->pos < fast_end) {
    n = DecodeLoop<false, kBmi2, kRuns>(data, 0, fast_end, n, want, st, bt, fail);
  }
  if (n < want && fail->what == nullptr) {
    n = DecodeLoop<true, kBmi2, kRuns>(tail, tail_bits, nbits, n, want, st, bt, fail);
  }
  return n;
}

// Samples left that average at most this many bits are mostly constant runs (`0` or `10` +
// 14 bits, and `0`: 2 or 17 bits), decoded with DecodeRunBody; longer ones change value often
// enough that a run would rarely get going, and keep DecodeLoop's own two-sample rounds.
// Either way the result is the same; only the speed differs.
constexpr size_t kRunBitsPerSample = 18;

template <bool kBmi2>
[[gnu::always_inline]] inline int DecodeBatch(const uint8_t* data, size_t fast_end,
                                              const uint8_t* tail, size_t tail_bits,
                                              size_t nbits, int n, int want, int left,
                                              DecodeState* st, int64_t* bt, RunFailure* fail) {
  if (nbits - st->pos <= kRunBitsPerSample * static_cast<size_t>(left)) {
    return DecodeBatchAs<kBmi2, true>(data, fast_end, tail, tail_bits, nbits, n, want, st, bt,
                                      fail);
  }
  return DecodeBatchAs<kBmi2, false>(data, fast_end, tail, tail_bits, nbits, n, want, st, bt,
                                     fail);
}

using DecodeBatchFn = int (*)(const uint8_t* data, size_t fast_end, const uint8_t* tail,
                              size_t tail_bits, size_t nbits, int n, int want, int left,
                              DecodeState* st, int64_t* bt, RunFailure* fail);

int DecodeBatchBaseline(const uint8_t* data, size_t fast_end, const uint8_t* tail,
                        size_t tail_bits, size_t nbits, int n, int want, int left,
                        DecodeState* st, int64_t* bt, RunFailure* fail) {
  return DecodeBatch<false>(data, fast_end, tail, tail_bits, nbits, n, want, left, st, bt,
                            fail);
}

// The loop is shift-heavy: with BMI2 (shlx/shrx/sarx: one uop for a variable shift instead
// of three) and MOVBE (a big-endian load in one instruction) it takes markedly fewer uops.
// Built twice and chosen at run time, since the library targets baseline x86-64. Every CPU
// with BMI2 (Intel Haswell, AMD Excavator and later) has LZCNT and MOVBE; both are tested
// anyway.
#ifdef STRATA_XOR_BMI2_DISPATCH
__attribute__((target("bmi,bmi2,lzcnt,movbe"))) int DecodeBatchBmi2(
    const uint8_t* data, size_t fast_end, const uint8_t* tail, size_t tail_bits, size_t nbits,
    int n, int want, int left, DecodeState* st, int64_t* bt, RunFailure* fail) {
  return DecodeBatch<true>(data, fast_end, tail, tail_bits, nbits, n, want, left, st, bt,
                           fail);
}
bool force_baseline = false;  // ForceBaselineDecodeForTesting
bool HasBmi2() {
  __builtin_cpu_init();  // may run during static initialisation
  // clang 14's __builtin_cpu_supports does not know "movbe": CPUID leaf 1, ECX bit 22.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool movbe = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_MOVBE) != 0;
  return __builtin_cpu_supports("bmi2") != 0 && movbe;
}
#endif

DecodeBatchFn ChooseDecodeBatch() {
#ifdef STRATA_XOR_BMI2_DISPATCH
  if (HasBmi2() && !force_baseline) return &DecodeBatchBmi2;
#endif
  return &DecodeBatchBaseline;
}

int DecodeBatchFirstCall(const uint8_t* data, size_t fast_end, const uint8_t* tail,
                         size_t tail_bits, size_t nbits, int n, int want, int left,
                         DecodeState* st, int64_t* bt, RunFailure* fail);

// The build to use: DecodeBatchFirstCall until the first batch picks one (constant-initialised,
// so iterators used during static initialisation work too). Atomic because iterators on
// several threads may pick at once; relaxed loads are plain loads.
std::atomic<DecodeBatchFn> decode_batch{&DecodeBatchFirstCall};

int DecodeBatchFirstCall(const uint8_t* data, size_t fast_end, const uint8_t* tail,
                         size_t tail_bits, size_t nbits, int n, int want, int left,
                         DecodeState* st, int64_t* bt, RunFailure* fail) {
  const DecodeBatchFn fn = ChooseDecodeBatch();
  decode_batch.store(fn, std::memory_order_relaxed);
  return fn(data, fast_end, tail, tail_bits, nbits, n, want, left, st, bt, fail);
}

}  // namespace

void internal::ForceBaselineDecodeForTesting(bool force) {
#ifdef STRATA_XOR_BMI2_DISPATCH
  force_baseline = force;
#else
  (void)force;
#endif
  decode_batch.store(ChooseDecodeBatch(), std::memory_order_relaxed);
}

bool XorIterator::Refill() {
  static_assert(kBatch == kBatchSize);
  batch_i_ = 0;
  batch_n_ = 0;
  if (pending_err_ != nullptr) {
    err_ = pending_err_;
    return false;
  }
  if (decoded_ >= total_) return false;
  const int want = std::min(kBatch, total_ - decoded_);
  int n = 0;
  if (decoded_ == 0 && want >= 2 && size_ >= kFastHeadBytes && DecodeHeadFast()) {
    n = 2;
  } else if (decoded_ < 2 && !DecodeHead(want, &n)) {
    decoded_ += n;
    batch_n_ = static_cast<uint32_t>(n);
    if (n == 0) err_ = pending_err_;
    return n > 0;
  }
  DecodeState st{pos_bits_, dec_t_, dec_v_, tdelta_, trailing_, mbits_};
  RunFailure fail;
  n = decode_batch.load(std::memory_order_relaxed)(data_, fast_end_, tail_, tail_start_ * 8,
                                                    nbits_, n, want, total_ - decoded_ - n,
                                                    &st, batch_, &fail);
  if (fail.what != nullptr) Fail(fail.what, fail.pos, decoded_ + fail.n);
  // After a failure this is the failed sample's partial state; only Resume() reads it, and
  // only after a clean decode.
  pos_bits_ = st.pos;
  dec_t_ = st.t;
  dec_v_ = st.v;
  tdelta_ = st.tdelta;
  leading_ = static_cast<uint8_t>(64 - st.trailing - st.mbits);
  trailing_ = static_cast<uint8_t>(st.trailing);
  mbits_ = static_cast<uint8_t>(st.mbits);
  decoded_ += n;
  batch_n_ = static_cast<uint32_t>(n);
  if (n == 0) {
    err_ = pending_err_;
    return false;
  }
  return true;
}

bool XorIterator::NextBatch() {
  if (done_ || err_ != nullptr || !Refill()) {
    done_ = true;
    return false;
  }
  return Next();
}

bool XorIterator::Seek(int64_t t) {
  if (done_ || err_ != nullptr) return false;
  if (batch_i_ > 0 && batch_[static_cast<size_t>(batch_i_) - 1] >= t) return true;
  while (true) {
    while (batch_i_ < batch_n_) {
      if (batch_[batch_i_++] >= t) return true;
    }
    if (!Refill()) {
      done_ = true;
      return false;
    }
  }
}

}  // namespace strata::chunkenc
