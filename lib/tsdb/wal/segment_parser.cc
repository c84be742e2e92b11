#include "tsdb/wal/segment_parser.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/coding.h"
#include "base/crc32c.h"
#include "strata/tsdb/wal/segment.h"

namespace strata::tsdb::wal::internal {
namespace {

constexpr uint8_t kKnownFlags = kSnappyFlag | kZstdFlag;

const char* KindName(uint8_t kind) {
  switch (kind) {
    case kFragmentFull: return "full";
    case kFragmentFirst: return "first";
    case kFragmentMiddle: return "middle";
    case kFragmentLast: return "last";
    default: return "invalid";
  }
}

}  // namespace

SegmentParser::Result SegmentParser::Fail(int64_t offset, std::string msg, bool torn) {
  failed_ = true;
  error_offset_ = offset;
  error_ = std::move(msg);
  torn_ = torn;
  return Result::kCorrupt;
}

SegmentParser::Result SegmentParser::Next(std::string* payload, uint8_t* flags) {
  if (failed_) return Result::kCorrupt;
  payload->clear();
  *flags = 0;
  const auto size = static_cast<int64_t>(data_.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(data_.data());
  int fragments = 0;  // fragments of the current record so far
  for (;;) {
    if (pos_ >= size) {
      if (fragments > 0) {
        return Fail(pos_, absl::StrCat("last record is torn: segment ends after ", fragments,
                                       " fragment(s) of the record at offset ", record_offset_),
                    /*torn=*/true);
      }
      return Result::kEnd;
    }
    const int64_t page_end = (pos_ / kPageSize + 1) * kPageSize;
    const uint8_t type = bytes[pos_];
    if (type == kFragmentPadding) {
      // The rest of the page must be zeros (bytes past the end of the file read as zeros).
      const int64_t end = std::min(page_end, size);
      for (int64_t i = pos_ + 1; i < end; ++i) {
        if (bytes[i] != 0) {
          return Fail(i, absl::StrFormat("unexpected non-zero byte 0x%02x in page padding",
                                         bytes[i]),
                      /*torn=*/false);
        }
      }
      pos_ = page_end;
      continue;
    }
    if (fragments == 0) record_offset_ = pos_;
    const uint8_t kind = type & kFragmentKindMask;
    if ((type & ~(kFragmentKindMask | kKnownFlags)) != 0 || kind > kFragmentLast ||
        (type & kKnownFlags) == kKnownFlags) {
      return Fail(pos_, absl::StrFormat("invalid fragment type byte 0x%02x", type), false);
    }
    if (page_end - pos_ < kFragmentHeaderSize) {
      return Fail(pos_, "fragment header crosses a page boundary", false);
    }
    if (size - pos_ < kFragmentHeaderSize) {
      return Fail(pos_, "segment ends inside a fragment header", true);
    }
    const int64_t len = base::LoadBE16(bytes + pos_ + 1);
    const uint32_t want_crc = base::LoadBE32(bytes + pos_ + 3);
    if (pos_ + kFragmentHeaderSize + len > page_end) {
      return Fail(pos_, absl::StrCat("fragment length ", len, " crosses a page boundary"), false);
    }
    if (pos_ + kFragmentHeaderSize + len > size) {
      return Fail(pos_, absl::StrCat("segment ends inside a fragment of length ", len), true);
    }
    const uint8_t* frag = bytes + pos_ + kFragmentHeaderSize;
    const uint32_t crc = base::Crc32c(frag, static_cast<size_t>(len));
    if (crc != want_crc) {
      return Fail(pos_, absl::StrFormat("crc mismatch: fragment says %08x, data has %08x",
                                        want_crc, crc),
                  false);
    }
    const bool starts = kind == kFragmentFull || kind == kFragmentFirst;
    if (starts != (fragments == 0)) {
      return Fail(pos_, absl::StrCat("unexpected ", KindName(kind), " fragment ",
                                     fragments == 0 ? "at the start of a record"
                                                    : "inside a record"),
                  false);
    }
    const uint8_t frag_flags = type & kKnownFlags;
    if (fragments > 0 && frag_flags != *flags) {
      return Fail(pos_, "fragments of one record disagree on compression", false);
    }
    *flags = frag_flags;
    payload->append(reinterpret_cast<const char*>(frag), static_cast<size_t>(len));
    pos_ += kFragmentHeaderSize + len;
    ++fragments;
    if (kind == kFragmentFull || kind == kFragmentLast) {
      good_end_ = pos_;
      return Result::kRecord;
    }
  }
}

bool SegmentParser::ValidFragmentAt(int64_t pos) const {
  const auto size = static_cast<int64_t>(data_.size());
  if (pos < 0 || pos + kFragmentHeaderSize > size) return false;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data_.data());
  const uint8_t type = bytes[pos];
  const uint8_t kind = type & kFragmentKindMask;
  if (kind == kFragmentPadding || kind > kFragmentLast) return false;
  if ((type & ~(kFragmentKindMask | kKnownFlags)) != 0) return false;
  const int64_t page_end = (pos / kPageSize + 1) * kPageSize;
  const int64_t len = base::LoadBE16(bytes + pos + 1);
  if (pos + kFragmentHeaderSize + len > std::min(page_end, size)) return false;
  return base::Crc32c(bytes + pos + kFragmentHeaderSize, static_cast<size_t>(len)) ==
         base::LoadBE32(bytes + pos + 3);
}

bool SegmentParser::ValidFragmentAfterError() const {
  if (!failed_) return false;
  const auto size = static_cast<int64_t>(data_.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(data_.data());
  const int64_t at = error_offset_;
  // The fragment after the corrupt one, if the corrupt header's length is plausible.
  if (at + kFragmentHeaderSize <= size) {
    const int64_t next = at + kFragmentHeaderSize + base::LoadBE16(bytes + at + 1);
    if (next / kPageSize == at / kPageSize && ValidFragmentAt(next)) return true;
  }
  for (int64_t page = (at / kPageSize + 1) * kPageSize; page < size; page += kPageSize) {
    if (ValidFragmentAt(page)) return true;
  }
  return false;
}

}  // namespace strata::tsdb::wal::internal
