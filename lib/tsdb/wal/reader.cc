#include "strata/tsdb/wal/reader.h"

#include <zstd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/snappy.h"
#include "tsdb/wal/segment_parser.h"

namespace strata::tsdb::wal {
namespace {

struct DctxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

struct SegmentFile {
  std::string path;
  int index = 0;
};

// Decompresses the zstd frame(s) in `src` into `*out`. Returns an error text or "".
std::string ZstdDecompress(ZSTD_DCtx* dctx, std::string_view src, size_t max_bytes,
                           std::string* out) {
  out->clear();
  if (src.empty()) return "";
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  size_t cap = std::max<size_t>(src.size() * 4, 4096);
  const unsigned long long fcs = ZSTD_getFrameContentSize(src.data(), src.size());
  if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != ZSTD_CONTENTSIZE_ERROR) {
    if (fcs > max_bytes) {
      return absl::StrCat("zstd frame declares ", fcs, " bytes, above the limit of ", max_bytes);
    }
    cap = std::max<size_t>(static_cast<size_t>(fcs), 1);
  }
  cap = std::min(cap, std::max<size_t>(max_bytes, 1));
  out->resize(cap);
  ZSTD_inBuffer in{src.data(), src.size(), 0};
  size_t pos = 0;
  for (;;) {
    if (pos == out->size()) {
      if (out->size() >= max_bytes) {
        return absl::StrCat("zstd record inflates beyond the limit of ", max_bytes, " bytes");
      }
      out->resize(std::min(max_bytes, out->size() * 2));
    }
    ZSTD_outBuffer ob{out->data(), out->size(), pos};
    const size_t r = ZSTD_decompressStream(dctx, &ob, &in);
    if (ZSTD_isError(r)) return absl::StrCat("zstd: ", ZSTD_getErrorName(r));
    pos = ob.pos;
    if (in.pos == in.size) {
      if (r == 0) break;                    // frame complete, input consumed
      if (ob.pos < ob.size) return "zstd: incomplete frame";  // decoder starved of input
    }
  }
  out->resize(pos);
  return "";
}

}  // namespace

struct Reader::Impl {
  ReaderOptions opts;
  std::vector<SegmentFile> segments;
  size_t next = 0;  // index into segments of the next segment to open
  std::string_view memory;  // FromBytes only
  bool from_memory = false;
  std::unique_ptr<base::MappedFile> mapping;
  std::unique_ptr<internal::SegmentParser> parser;
  std::unique_ptr<ZSTD_DCtx, DctxDeleter> dctx;
  std::string payload;
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::~Reader() = default;

absl::StatusOr<std::unique_ptr<Reader>> Reader::Open(std::vector<SegmentRange> ranges,
                                                     ReaderOptions opts) {
  if (opts.fs == nullptr) opts.fs = base::DefaultFileSystem();
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  for (const SegmentRange& r : ranges) {
    auto refs = ListSegments(*opts.fs, r.dir);
    if (!refs.ok()) return refs.status();
    for (const SegmentRef& ref : *refs) {
      if (r.first >= 0 && ref.index < r.first) continue;
      if (r.last >= 0 && ref.index > r.last) break;
      impl->segments.push_back(SegmentFile{base::JoinPath(r.dir, ref.name), ref.index});
    }
  }
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

std::unique_ptr<Reader> Reader::FromBytes(std::string_view segment, ReaderOptions opts) {
  auto impl = std::make_unique<Impl>();
  impl->opts = opts;
  impl->from_memory = true;
  impl->memory = segment;
  impl->segments.push_back(SegmentFile{"<memory>", 0});
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

bool Reader::Fail(absl::Status s) {
  status_ = std::move(s);
  record_.clear();
  impl_->parser.reset();
  impl_->mapping.reset();
  impl_->next = impl_->segments.size();
  return false;
}

bool Reader::Next() {
  if (!status_.ok()) return false;
  Impl& m = *impl_;
  for (;;) {
    if (m.parser == nullptr) {
      if (m.next >= m.segments.size()) {
        record_.clear();
        return false;
      }
      const SegmentFile& seg = m.segments[m.next++];
      cur_path_ = seg.path;
      cur_segment_ = seg.index;
      std::string_view data;
      if (m.from_memory) {
        data = m.memory;
      } else {
        auto mapped = m.opts.fs->MapReadOnly(seg.path);
        if (!mapped.ok()) return Fail(mapped.status());
        m.mapping = std::move(*mapped);
        data = m.mapping->data();
      }
      m.parser = std::make_unique<internal::SegmentParser>(data);
    }
    uint8_t flags = 0;
    switch (m.parser->Next(&m.payload, &flags)) {
      case internal::SegmentParser::Result::kEnd:
        m.parser.reset();
        m.mapping.reset();
        continue;
      case internal::SegmentParser::Result::kCorrupt:
        return Fail(absl::DataLossError(absl::StrCat("wal segment ", cur_path_, " at offset ",
                                                     m.parser->error_offset(), ": ",
                                                     m.parser->error())));
      case internal::SegmentParser::Result::kRecord:
        break;
    }
    cur_offset_ = m.parser->record_offset();
    if ((flags & kSnappyFlag) != 0) {
      // Prometheus 2.x's default WAL compression.
      absl::Status s = base::SnappyUncompress(m.payload, m.opts.max_record_bytes, &record_);
      if (!s.ok()) {
        return Fail(absl::DataLossError(absl::StrCat("wal segment ", cur_path_, " at offset ",
                                                     cur_offset_, ": ", s.message())));
      }
      return true;
    }
    if ((flags & kZstdFlag) != 0) {
      if (m.dctx == nullptr) m.dctx.reset(ZSTD_createDCtx());
      const std::string err =
          ZstdDecompress(m.dctx.get(), m.payload, m.opts.max_record_bytes, &record_);
      if (!err.empty()) {
        return Fail(absl::DataLossError(absl::StrCat("wal segment ", cur_path_, " at offset ",
                                                     cur_offset_, ": ", err)));
      }
    } else {
      record_.swap(m.payload);
    }
    return true;
  }
}

absl::StatusOr<RepairReport> RepairTail(base::FileSystem& fs, const std::string& dir) {
  RepairReport report;
  auto refs = ListSegments(fs, dir);
  if (!refs.ok()) return refs.status();
  // The newest non-empty segment: a crash right after a segment was started leaves an
  // empty newest segment and the torn tail in the one before it.
  for (auto it = refs->rbegin(); it != refs->rend(); ++it) {
    const std::string path = base::JoinPath(dir, it->name);
    int64_t cut = 0;
    int64_t old_size = 0;
    {
      auto mapped = fs.MapReadOnly(path);
      if (!mapped.ok()) return mapped.status();
      const std::string_view data = (*mapped)->data();
      if (data.empty()) continue;
      old_size = static_cast<int64_t>(data.size());
      internal::SegmentParser parser(data);
      std::string payload;
      uint8_t flags = 0;
      internal::SegmentParser::Result r;
      while ((r = parser.Next(&payload, &flags)) == internal::SegmentParser::Result::kRecord) {
      }
      if (r == internal::SegmentParser::Result::kEnd) return report;
      if (parser.ValidFragmentAfterError()) {
        return absl::DataLossError(absl::StrCat(
            "wal segment ", path, " at offset ", parser.error_offset(), ": ", parser.error(),
            " (valid records follow, so this is not a torn tail; not repaired)"));
      }
      cut = parser.good_end();
      report.reason = absl::StrCat(parser.error(), " at offset ", parser.error_offset());
    }
    absl::Status s = fs.Truncate(path, static_cast<uint64_t>(cut));
    if (!s.ok()) return s;
    {
      // Zero-fill the cut page, as Prometheus pads a torn page on reopen, and make the
      // truncation durable.
      auto f = fs.OpenAppendable(path);
      if (!f.ok()) return f.status();
      if (cut % kPageSize != 0) {
        s = (*f)->Append(std::string(static_cast<size_t>(kPageSize - cut % kPageSize), '\0'));
      }
      if (s.ok()) s = (*f)->Sync();
      absl::Status c = (*f)->Close();
      if (!s.ok()) return s;
      if (!c.ok()) return c;
    }
    report.repaired = true;
    report.segment = it->index;
    report.path = path;
    report.offset = cut;
    report.bytes_dropped = old_size - cut;
    return report;
  }
  return report;
}

}  // namespace strata::tsdb::wal
