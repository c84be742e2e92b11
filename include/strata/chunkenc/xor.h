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
  // Prometheus's xorChunk.Appender() does. Returns DataLoss if *buf is not a valid chunk.
  static absl::StatusOr<XorAppender> Resume(std::string* buf, XorOptions opts = {});

  // Appends one sample. Requires: t greater than the last appended timestamp (callers
  // enforce ordering), and fewer than 65535 samples in the chunk.
  void Append(int64_t t, double v);

  int num_samples() const { return num_; }

 private:
  XorAppender() = default;
  void WriteBit(bool bit);
  void WriteBits(uint64_t v, int nbits);
  void WriteByte(uint8_t b);
  void WriteVBits(double v);

  std::string* buf_ = nullptr;
  XorOptions opts_;
  int num_ = 0;
  int count_ = 0;  // free bits in the last byte of *buf_ (Prometheus bstream.count)
  int64_t t_ = 0;
  uint64_t tdelta_ = 0;
  uint64_t v_ = 0;  // bits of the previous value
  uint8_t leading_ = 0xff;
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

  bool Next();
  // First sample with ts >= t; never moves backwards.
  bool Seek(int64_t t);
  // Requires: the last Next()/Seek() returned true.
  model::Sample At() const { return {t_, v_}; }
  int64_t AtT() const { return t_; }
  absl::Status status() const;

  // Number of samples the chunk header declares.
  int num_samples() const { return total_; }

 private:
  bool Fail(const char* what);
  bool ReadBit(bool* bit);
  bool ReadBits(int nbits, uint64_t* v);

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;      // bytes of the bit stream (after the 2-byte count)
  size_t pos_bits_ = 0;  // read position in the bit stream
  int total_ = 0;
  int read_ = 0;
  int64_t t_ = 0;
  double v_ = 0;
  uint64_t tdelta_ = 0;
  uint8_t leading_ = 0;
  uint8_t trailing_ = 0;
  const char* err_ = nullptr;
  size_t err_offset_ = 0;
  bool done_ = false;
};

}  // namespace strata::chunkenc
