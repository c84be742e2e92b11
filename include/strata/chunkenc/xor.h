// strata::chunkenc XOR chunks: Prometheus's Gorilla-style float chunk encoding (encoding 1),
// byte-identical to Prometheus (see ../shared/formats/tsdb-format.md section 5).
//
// Layout of the chunk data (what a block's chunk file stores after the encoding byte):
//
//   +----------------+-------------------------------------------------------------+
//   | count (2, BE)  | bit stream, most significant bit first                      |
//   +----------------+-------------------------------------------------------------+
//   sample 0: varint(t0) as whole bytes, 64 raw bits of v0
//   sample 1: uvarint(t1 - t0) as whole bytes, XOR code vs v0
//   sample n: delta-of-delta code of t, XOR code vs v(n-1)
//
// By default the bytes are those of Prometheus >= 3.0. XorOptions::prometheus_2_42 reproduces
// the 2.42 bit writer, which leaves one extra zero byte after a byte-aligned whole-byte
// write at the end of a chunk; both forms decode identically.
//
// No I/O and no allocation per sample. Appenders and iterators are single-threaded; an
// iterator borrows the bytes it reads.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "strata/model/sample.h"

namespace strata::chunkenc {

// Chunk encoding byte as stored in chunk files (Prometheus chunkenc.Encoding; Thanos adds
// 0xFF for downsampled aggregate chunks).
enum class Encoding : uint8_t {
  kNone = 0,
  kXor = 1,
  kHistogram = 2,
  kFloatHistogram = 3,
  kThanosAggr = 0xFF,
};

struct XorOptions {
  // Write Prometheus 2.42's bytes (with its extra trailing zero byte in some chunks) instead
  // of 3.x's.
  bool prometheus_2_42 = false;
};

// Appends samples to a chunk held in a caller-owned std::string. The string is the chunk's
// data, exactly as stored after the encoding byte in a chunk file; it stays valid and
// decodable after every Append.
class XorAppender final {
 public:
  // Starts a new, empty chunk in *buf (clearing it). `buf` must outlive the appender.
  explicit XorAppender(std::string* buf, XorOptions opts = {});

  // Continues an existing chunk in *buf, restoring the appender state from a full decode as
  // Prometheus's xorChunk.Appender() does. As there, a non-empty chunk resumes with the
  // decoder's value window, which starts at (0, 0) rather than "unset": if the chunk holds no
  // `11` value code yet, the next non-zero XOR is written as `10` + 64 bits, so the bytes can
  // differ from appending everything in one go (they decode the same). The bit position is
  // that of an in-memory Prometheus chunk, so new bits continue the stream (a trailing 2.42
  // zero byte is reused). Returns DataLoss, naming the sample and byte offset, if *buf is not
  // a valid chunk, or if it has non-zero bits or more than one spare byte after the last
  // sample (appending would corrupt it).
  static absl::StatusOr<XorAppender> Resume(std::string* buf, XorOptions opts = {});

  // Appends one sample. Requires: t greater than the last appended timestamp (callers
  // enforce ordering), and fewer than 65535 samples in the chunk.
  void Append(int64_t t, double v);

  int num_samples() const { return num_; }

 private:
  XorAppender() = default;

  // Append for what the fast path does not take: samples 0 and 1, delta-of-deltas beyond
  // 14 bits, and buffers without 16 bytes of spare capacity.
  void AppendSlow(int64_t t, uint64_t vbits);
  // Append's fast path for a changed value, after its first steps (the 16 spare bytes are
  // appended, t_ and tdelta_ updated; udod is the delta-of-delta).
  void AppendChanged(uint64_t vbits, uint64_t udod);

  std::string* buf_ = nullptr;
  XorOptions opts_;
  int num_ = 0;
  // Bits of the stream after the 2-byte count. *buf_ holds ceil(nbits_ / 8) stream bytes,
  // plus one spare zero byte when it is one byte longer (Prometheus's bstream with
  // count == 8: the byte a 2.42 byte-aligned writeByte appends). Bits past nbits_ are zero.
  uint64_t nbits_ = 0;
  int64_t t_ = 0;
  uint64_t tdelta_ = 0;
  uint64_t v_ = 0;  // bits of the previous value
  uint8_t leading_ = 0xff;  // 0xff: no window yet (fresh chunk)
  uint8_t trailing_ = 0;
};

// Iterates the samples of one XOR chunk. Follows the strata iterator protocol: Next()/Seek()
// return false at the end or on error; status() is DataLoss with the sample index and byte
// offset when the bytes are truncated or malformed. Never reads outside the given bytes.
class XorIterator final {
 public:
  XorIterator() = default;
  explicit XorIterator(std::string_view chunk) { Reset(chunk); }

  // Restarts iteration over `chunk` (borrowed; must outlive the iteration).
  void Reset(std::string_view chunk);

  // Advances to the next sample. False at the end, or on corrupt data (then status()).
  // Inline: serving a decoded sample is a few instructions; decoding happens in batches.
  bool Next() {
    if (batch_i_ >= batch_n_) [[unlikely]] return NextBatch();
    ++batch_i_;
    return true;
  }
  // First sample with ts >= t; never moves backwards: if the current sample already has
  // ts >= t it stays. False once the chunk is exhausted or on error.
  bool Seek(int64_t t);
  // Requires: the last Next()/Seek() returned true.
  // The current sample is batch entry batch_i_ - 1 (>= 0 once a sample has been served).
  model::Sample At() const {
    const size_t i = batch_i_;
    return {batch_[i - 1], std::bit_cast<double>(batch_[kBatch + i - 1])};
  }
  int64_t AtT() const { return batch_[static_cast<size_t>(batch_i_) - 1]; }
  // OK while iterating and at a clean end; DataLoss ("xor chunk: sample I of N at byte
  // offset O: what") when the bytes are truncated or malformed.
  absl::Status status() const;

  // Number of samples the chunk header declares.
  int num_samples() const { return total_; }

 private:
  friend class XorAppender;  // Resume() takes the decoder state at the end of the chunk

  // Samples are decoded kBatch at a time in a loop that keeps the decoder state in
  // registers; Next() then serves them from batch_ (timestamps and value bits in two halves
  // rather than an array of Sample, so that At() indexes them with a scaled index instead of
  // a shift and add).
  static constexpr int kBatch = 64;
  // A sample spans at most 145 bits; decoding it loads 8 bytes at offsets up to 19 bytes
  // past its first byte (the last load is the word after it). Samples that start at least
  // kMaxSampleSpan bytes before the end are decoded straight from the caller's bytes without
  // bounds checks; the rest from tail_, a copy of the last kTailCopy bytes followed by
  // kTailPad zero bytes.
  static constexpr size_t kMaxSampleSpan = 32;
  static constexpr size_t kTailCopy = 32;
  static constexpr size_t kTailPad = 40;

  // Decodes the next batch. False if no sample could be decoded (clean end, or err_ set).
  bool Refill();
  // Next() when the batch is used up: refills and serves the first sample, or ends.
  bool NextBatch();
  // Decodes samples 0 and 1 (whole-byte varints) into the batch; false on error.
  bool DecodeHead(int want, int* n);
  // DecodeHead's common case: both samples into batch entries 0 and 1 of a chunk with at
  // least kFastHeadBytes stream bytes, unchecked. False (nothing changed) when DecodeHead
  // must decide: a varint longer than 8 bytes or an invalid value window.
  bool DecodeHeadFast();
  static constexpr size_t kFastHeadBytes = 48;
  // Sample 1's value code at bit *pos, whose first bits are `w`: `0`, `10` (the initial
  // window) or `11` + a new window. Sets the window, XORs the payload into *v and moves *pos
  // past the code. False, with nothing changed, if the new window's leading zeros plus
  // significant bits exceed 64.
  bool DecodeFirstValueCode(uint64_t w, size_t* pos, uint64_t* v);
  void Fail(const char* what, size_t pos_bits, int sample);
  // 64 bits of the stream starting at bit `pos`, of which the first 64 - pos % 8 (>= 57) are
  // the stream's (bits past its end read as zero). Bounds-checked; for the head only.
  uint64_t Peek(size_t pos) const;
  // The `nbits` (1..64) bits starting at bit `pos`, right-aligned. Bounds-checked.
  uint64_t ReadBits(size_t pos, int nbits) const;

  // The borrowed chunk.
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;        // bytes of the bit stream (after the 2-byte count)
  size_t nbits_ = 0;       // size_ * 8
  size_t tail_start_ = 0;  // stream offset of tail_[0]
  size_t fast_end_ = 0;    // samples starting before this bit are far from the end
  size_t chunk_size_ = 0;  // bytes of the whole chunk, header included
  int total_ = 0;

  // Decoder state after the last decoded sample.
  size_t pos_bits_ = 0;  // read position in the bit stream
  int decoded_ = 0;
  uint64_t dec_t_ = 0;
  uint64_t dec_v_ = 0;  // bits of the value
  uint64_t tdelta_ = 0;
  uint8_t leading_ = 0;  // Prometheus's decoder starts with window (0, 0), not "unset"
  uint8_t trailing_ = 0;
  uint8_t mbits_ = 64;  // 64 - leading_ - trailing_

  // Served state: batch entries [0, batch_i_) have been served. batch_i_ is >= 1 whenever
  // a sample is current, as Refill() only runs when the caller moves on.
  // Unsigned 32-bit: a type no int64_t or double store can alias (type-based alias
  // analysis), so a caller's loop that stores each sample (into a vector, say) keeps the
  // index in a register rather than reloading it after every store; zero-extended for free
  // when At() indexes with it.
  uint32_t batch_i_ = 0;
  uint32_t batch_n_ = 0;
  bool done_ = false;

  // A decode failure is pending until the samples decoded before it have been served.
  const char* pending_err_ = nullptr;
  const char* err_ = nullptr;  // static description of the failure; null while OK
  size_t err_offset_ = 0;      // byte offset in the chunk (header included) of the failure
  int err_sample_ = 0;         // index of the sample whose decoding failed

  // Timestamps in [0, kBatch), value bits in [kBatch, 2 * kBatch): one array, so that the
  // decode loops address both from one register (one fewer for them to keep).
  int64_t batch_[2 * kBatch] = {};
  uint8_t tail_[kTailCopy + kTailPad] = {};
};

}  // namespace strata::chunkenc
