#include "strata/tsdb/wal/writer.h"

#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/coding.h"
#include "base/crc32c.h"
#include "strata/base/status.h"

namespace strata::tsdb::wal {

// A run of consecutive pages of the segment, the last of them being filled, so that the
// records of a group commit spanning several pages go out in one write. buf[0] is the start
// of a page of the segment. Bytes [0, flushed) are already in the file; [flushed, alloc)
// are buffered; the rest is zero. The page being filled starts at `start`.
struct Writer::Page {
  static constexpr int64_t kPages = 8;
  static constexpr int64_t kCapacity = kPages * kPageSize;

  int64_t start = 0;
  int64_t alloc = 0;
  int64_t flushed = 0;
  std::unique_ptr<char[]> buf = std::make_unique<char[]>(kCapacity);  // zeroed

  int64_t remaining() const { return start + kPageSize - alloc; }
  // Fewer bytes left than a fragment header: the rest of the page is padding.
  bool full() const { return remaining() < kFragmentHeaderSize; }
  bool page_empty() const { return alloc == start; }
  void Reset() {
    std::memset(buf.get(), 0, static_cast<size_t>(alloc));
    start = 0;
    alloc = 0;
    flushed = 0;
  }
};

// One Log() call's records, prepared (compressed, checksummed) by its caller before it
// queues them. `state` and `status` are guarded by queue_mu_ while the batch is queued.
struct Writer::Batch {
  enum State { kQueued, kLead, kDone };
  std::span<const std::string_view> recs;
  const uint32_t* crcs = nullptr;
  const uint8_t* flags = nullptr;          // per record: 0 or kZstdFlag; null: all 0
  const std::string* compressed = nullptr;  // per record, used where flags[i] != 0
  State state = kQueued;
  absl::Status status;
  // Signalled (under queue_mu_, as the waiter may return and destroy it right after) when
  // `state` changes; one per batch so a leader wakes only the callers it is done with.
  std::condition_variable cv;
};

namespace {

// Groups a leader writes before handing the lead to a waiting caller.
constexpr int kLeaderRounds = 4;

struct CctxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

// Compresses `rec` into `*out` with a per-thread context, so appenders compress in
// parallel before taking the writer's lock. Returns false if zstd fails.
bool ZstdCompress(std::string_view rec, int level, std::string* out) {
  thread_local std::unique_ptr<ZSTD_CCtx, CctxDeleter> cctx(ZSTD_createCCtx());
  out->resize(ZSTD_compressBound(rec.size()));
  const size_t n = ZSTD_compressCCtx(cctx.get(), out->data(), out->size(), rec.data(),
                                     rec.size(), level);
  if (ZSTD_isError(n)) return false;
  out->resize(n);
  return true;
}

}  // namespace

Writer::Writer(std::string dir, WriterOptions opts)
    : dir_(std::move(dir)), opts_(opts), page_(std::make_unique<Page>()) {}

Writer::~Writer() {
  bool closed;
  {
    base::MutexLock l(&mu_);
    closed = closed_;
  }
  if (!closed) (void)Close();
}

absl::StatusOr<std::unique_ptr<Writer>> Writer::Open(std::string dir, WriterOptions opts,
                                                     RepairReport* report) {
  if (opts.fs == nullptr) opts.fs = base::DefaultFileSystem();
  if (opts.segment_size <= 0 || opts.segment_size % kPageSize != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "wal ", dir, ": segment size ", opts.segment_size, " is not a positive multiple of ",
        kPageSize));
  }
  absl::Status s = opts.fs->CreateDirs(dir);
  if (!s.ok()) return s;
  auto repaired = RepairTail(*opts.fs, dir);
  if (!repaired.ok()) return repaired.status();
  if (report != nullptr) *report = *repaired;
  auto bounds = SegmentBounds(*opts.fs, dir);
  if (!bounds.ok()) return bounds.status();
  std::unique_ptr<Writer> w(new Writer(std::move(dir), opts));
  {
    base::MutexLock l(&w->mu_);
    w->last_sync_ = std::chrono::steady_clock::now();
    s = w->SetSegmentLocked(bounds->second + 1);
    if (!s.ok()) {
      w->closed_ = true;  // nothing to close; keeps the destructor from trying
      return s;
    }
  }
  // The new segment's directory entry must survive a crash, or so would its records not.
  s = opts.fs->SyncDir(w->dir_);
  if (!s.ok()) return s;
  return w;
}

absl::Status Writer::SetSegmentLocked(int index) {
  auto f = opts_.fs->OpenAppendable(SegmentName(dir_, index));
  if (!f.ok()) return f.status();
  segment_ = std::move(*f);
  segment_index_ = index;
  done_pages_ = static_cast<int64_t>(segment_->Size()) / kPageSize;
  return absl::OkStatus();
}

absl::Status Writer::CheckUsableLocked() const {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat("wal ", dir_, ": closed"));
  if (!error_.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("wal ", dir_, ": unusable after an earlier write error: ", error_.message()));
  }
  return absl::OkStatus();
}

absl::Status Writer::Sticky(absl::Status s) {
  if (!s.ok() && error_.ok()) error_ = s;
  return s;
}

absl::Status Writer::FlushPageLocked(bool clear) {
  Page& p = *page_;
  if (clear) {
    // The rest of the page is padding (zeros); the next page starts after it, in this
    // buffer if it has room, else the buffer is written out and starts over.
    ++done_pages_;
    p.alloc = p.start + kPageSize;
    if (p.alloc < Page::kCapacity) {
      p.start = p.alloc;
      return absl::OkStatus();
    }
  }
  if (p.alloc > p.flushed) {
    const std::string_view pending(p.buf.get() + p.flushed,
                                   static_cast<size_t>(p.alloc - p.flushed));
    absl::Status s = segment_->Append(pending);
    if (!s.ok()) return Sticky(std::move(s));
    p.flushed = p.alloc;
  }
  if (p.alloc == Page::kCapacity) p.Reset();
  return absl::OkStatus();
}

absl::Status Writer::SyncLocked() {
  absl::Status s = segment_->Sync();
  if (!s.ok()) return Sticky(std::move(s));
  last_sync_ = std::chrono::steady_clock::now();
  return absl::OkStatus();
}

absl::Status Writer::NextSegmentLocked() {
  if (!page_->page_empty()) {
    absl::Status s = FlushPageLocked(/*clear=*/true);
    if (!s.ok()) return s;
  }
  {
    absl::Status s = FlushPageLocked(/*clear=*/false);
    if (!s.ok()) return s;
  }
  page_->Reset();  // the next segment's first page starts the buffer
  std::unique_ptr<base::WritableFile> prev = std::move(segment_);
  // The finished segment is synced before the next is created, so a crash can leave a torn
  // tail only in the newest non-empty segment (which RepairTail inspects).
  absl::Status s = prev->Sync();
  if (!s.ok()) {
    segment_ = std::move(prev);
    return Sticky(std::move(s));
  }
  s = prev->Close();
  if (!s.ok()) return Sticky(std::move(s));
  s = SetSegmentLocked(segment_index_ + 1);
  if (s.ok()) s = opts_.fs->SyncDir(dir_);
  return Sticky(std::move(s));
}

absl::Status Writer::LogOneLocked(std::string_view rec, uint32_t whole_crc, uint8_t flags) {
  Page* p = page_.get();
  if (p->full()) {
    absl::Status s = FlushPageLocked(/*clear=*/true);
    if (!s.ok()) return s;
  }
  // A record never crosses a segment: if it does not fit in the space left (this page plus
  // the untouched pages, minus one header per page) start a new segment. A record too big
  // for a whole segment is written to a fresh segment anyway, which then grows past
  // segment_size, as in Prometheus.
  const int64_t pages_per_segment = opts_.segment_size / kPageSize;
  const int64_t left = p->remaining() - kFragmentHeaderSize +
                       (kPageSize - kFragmentHeaderSize) * (pages_per_segment - done_pages_ - 1);
  const bool segment_empty = done_pages_ == 0 && p->page_empty();
  if (static_cast<int64_t>(rec.size()) > left && !segment_empty) {
    absl::Status s = NextSegmentLocked();
    if (!s.ok()) return s;
  }
  // One pass at least, so that an empty record is written as an empty full fragment.
  for (int i = 0; i == 0 || !rec.empty(); ++i) {
    const auto n = static_cast<size_t>(
        std::min<int64_t>(static_cast<int64_t>(rec.size()),
                          p->remaining() - kFragmentHeaderSize));
    const bool last = n == rec.size();
    uint8_t kind;
    if (i == 0) {
      kind = last ? kFragmentFull : kFragmentFirst;
    } else {
      kind = last ? kFragmentLast : kFragmentMiddle;
    }
    char* h = p->buf.get() + p->alloc;
    h[0] = static_cast<char>(kind | flags);
    h[1] = static_cast<char>(n >> 8);
    h[2] = static_cast<char>(n);
    base::StoreBE32(h + 3, kind == kFragmentFull ? whole_crc : base::Crc32c(rec.data(), n));
    std::memcpy(h + kFragmentHeaderSize, rec.data(), n);
    p->alloc += kFragmentHeaderSize + static_cast<int64_t>(n);
    rec.remove_prefix(n);
    if (p->full()) {
      absl::Status s = FlushPageLocked(/*clear=*/true);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Writer::WriteGroupLocked(std::span<Batch* const> group) {
  absl::Status s = CheckUsableLocked();
  if (!s.ok()) return s;
  for (const Batch* b : group) {
    for (size_t i = 0; i < b->recs.size(); ++i) {
      const bool use_compressed = b->flags != nullptr && b->flags[i] != 0;
      s = LogOneLocked(use_compressed ? std::string_view(b->compressed[i]) : b->recs[i],
                       b->crcs[i], use_compressed ? kZstdFlag : 0);
      if (!s.ok()) return s;
    }
  }
  // One write for everything the group added (the buffer holds several pages).
  s = FlushPageLocked(/*clear=*/false);
  if (!s.ok()) return s;
  switch (opts_.sync_policy) {
    case SyncPolicy::kAlways:
      return SyncLocked();
    case SyncPolicy::kPeriodic:
      if (std::chrono::steady_clock::now() - last_sync_ >= opts_.sync_interval) return SyncLocked();
      return absl::OkStatus();
    case SyncPolicy::kNone:
      break;
  }
  return absl::OkStatus();
}

absl::Status Writer::Log(std::span<const std::string_view> recs) {
  // Compress and checksum outside any lock: it is the expensive part and needs no shared
  // state. The buffers are per thread; this thread blocks until its batch is written.
  thread_local std::vector<std::string> compressed;
  thread_local std::vector<uint8_t> flags;
  thread_local std::vector<uint32_t> crcs;
  const bool zstd = opts_.compression == Compression::kZstd;
  if (zstd) {
    if (compressed.size() < recs.size()) compressed.resize(recs.size());
    flags.assign(recs.size(), 0);
    for (size_t i = 0; i < recs.size(); ++i) {
      // Keep the compressed form only when it is smaller, as Prometheus does.
      if (ZstdCompress(recs[i], opts_.zstd_level, &compressed[i]) &&
          compressed[i].size() < recs[i].size()) {
        flags[i] = kZstdFlag;
      }
    }
  }
  crcs.resize(recs.size());
  for (size_t i = 0; i < recs.size(); ++i) {
    const std::string_view r = zstd && flags[i] != 0 ? std::string_view(compressed[i]) : recs[i];
    crcs[i] = base::Crc32c(r.data(), r.size());
  }
  Batch self;
  self.recs = recs;
  self.crcs = crcs.data();
  if (zstd) {
    self.flags = flags.data();
    self.compressed = compressed.data();
  }

  // Group commit: queue the batch; the first caller to find no leader leads. A follower
  // sleeps until a leader wrote its batch (kDone) or handed it the lead (kLead).
  {
    std::unique_lock<std::mutex> q(queue_mu_);
    queue_.push_back(&self);
    if (leading_) {
      self.cv.wait(q, [&self] { return self.state != Batch::kQueued; });
      if (self.state == Batch::kDone) return self.status;
    }
    leading_ = true;
  }
  // Leader: take everything queued so far (this batch included, in arrival order), write
  // it, wake its callers. Batches queued meanwhile are written by this thread too, for a
  // few rounds (it is running, a follower would first have to be woken); then the first of
  // them is handed the lead.
  thread_local std::vector<Batch*> group;
  group.clear();
  {
    std::lock_guard<std::mutex> q(queue_mu_);
    group.swap(queue_);
  }
  absl::Status own;
  for (int round = 0;; ++round) {
    absl::Status s;
    {
      base::MutexLock l(&mu_);
      s = WriteGroupLocked(group);
    }
    if (round == 0) own = s;
    bool more = false;
    {
      std::lock_guard<std::mutex> q(queue_mu_);
      for (Batch* b : group) {
        b->status = s;
        b->state = Batch::kDone;
        if (b != &self) b->cv.notify_one();
      }
      group.clear();
      if (queue_.empty()) {
        leading_ = false;
      } else if (round + 1 < kLeaderRounds) {
        group.swap(queue_);
        more = true;
      } else {
        queue_.front()->state = Batch::kLead;
        queue_.front()->cv.notify_one();
      }
    }
    if (!more) break;
  }
  if (zstd) {
    // Do not let one huge batch (a checkpoint flush) pin its buffers in this thread forever.
    for (size_t i = 0; i < recs.size(); ++i) {
      if (compressed[i].capacity() > (size_t{4} << 20)) std::string().swap(compressed[i]);
    }
  }
  return own;
}

absl::Status Writer::Sync() {
  base::MutexLock l(&mu_);
  absl::Status s = CheckUsableLocked();
  if (!s.ok()) return s;
  return SyncLocked();
}

absl::StatusOr<int> Writer::NextSegment() {
  base::MutexLock l(&mu_);
  absl::Status s = CheckUsableLocked();
  if (!s.ok()) return s;
  s = NextSegmentLocked();
  if (!s.ok()) return s;
  return segment_index_;
}

absl::Status Writer::Truncate(int upto) {
  int current;
  {
    base::MutexLock l(&mu_);
    current = segment_index_;
  }
  if (upto > current) {
    return absl::InvalidArgumentError(absl::StrCat("wal ", dir_, ": cannot truncate up to segment ",
                                                   upto, ", past the current segment ", current));
  }
  auto refs = ListSegments(*opts_.fs, dir_);
  if (!refs.ok()) return refs.status();
  for (const SegmentRef& r : *refs) {
    if (r.index >= upto) break;
    absl::Status s = opts_.fs->Remove(base::JoinPath(dir_, r.name));
    if (!s.ok()) return s;
  }
  return opts_.fs->SyncDir(dir_);
}

absl::Status Writer::Close() {
  base::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError(absl::StrCat("wal ", dir_, ": already closed"));
  closed_ = true;
  absl::Status s = error_;
  // Zero-fill the current page to its end as Prometheus does; an empty page is left alone
  // so that a segment holding no records stays empty.
  if (segment_ == nullptr) return s;  // a failed rotation left no current segment
  if (s.ok() && !page_->page_empty()) s = FlushPageLocked(/*clear=*/true);
  if (s.ok()) s = FlushPageLocked(/*clear=*/false);
  if (s.ok()) s = segment_->Sync();
  absl::Status c = segment_->Close();
  if (s.ok()) s = c;
  return s;
}

std::pair<int, int64_t> Writer::LastSegmentAndOffset() const {
  base::MutexLock l(&mu_);
  return {segment_index_, done_pages_ * kPageSize + (page_->alloc - page_->start)};
}

}  // namespace strata::tsdb::wal
