// Internal: splits the bytes of one WAL segment into records (fragments reassembled,
// CRCs verified, payloads still compressed). Shared by the Reader, tail repair and the
// fuzz target. Never reads outside `data`.
//
// A segment whose size is not a multiple of the page size reads as if zero-padded to the
// page end, as Prometheus's segmentBufReader does, so a segment cut at a page-flush
// boundary is not corrupt. Padding between the fragments of one record is skipped as
// Prometheus's reader does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::tsdb::wal::internal {

class SegmentParser {
 public:
  enum class Result { kRecord, kEnd, kCorrupt };

  explicit SegmentParser(std::string_view data) : data_(data) {}

  // Parses the next record. kRecord: `*payload` holds the concatenated fragment data and
  // `*flags` the compression bits (kSnappyFlag/kZstdFlag) of its fragments. kEnd: clean end
  // of the segment. kCorrupt: see error(), error_offset(), torn(); calling again returns
  // kCorrupt.
  Result Next(std::string* payload, uint8_t* flags);

  // Offset of the first fragment of the last record returned (or being parsed).
  int64_t record_offset() const { return record_offset_; }
  // End of the last complete record returned (0 before the first).
  int64_t good_end() const { return good_end_; }

  const std::string& error() const { return error_; }
  // Offset of the byte or fragment found corrupt.
  int64_t error_offset() const { return error_offset_; }
  // True if the corruption is the segment ending inside a fragment or record (a torn write),
  // rather than bytes that are present but wrong.
  bool torn() const { return torn_; }

  // Heuristic for tail repair: true if a well-formed fragment (known kind and flags,
  // matching CRC) starts somewhere after the corruption: right after the corrupt fragment if
  // its header is plausible, or at any later page start. If so the corruption is not a torn
  // tail and must not be repaired by truncation.
  bool ValidFragmentAfterError() const;

 private:
  Result Fail(int64_t offset, std::string msg, bool torn);
  // True if a well-formed fragment starts at `pos` (within one page).
  bool ValidFragmentAt(int64_t pos) const;

  std::string_view data_;
  int64_t pos_ = 0;
  int64_t record_offset_ = 0;
  int64_t good_end_ = 0;
  bool failed_ = false;
  std::string error_;
  int64_t error_offset_ = 0;
  bool torn_ = false;
};

}  // namespace strata::tsdb::wal::internal
