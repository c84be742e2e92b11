#include "strata/tsdb/head.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>
#include <limits>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "strata/base/mutex.h"
#include "base/status_macros.h"
#include "strata/base/status.h"
#include "strata/index/mem_postings.h"
#include "strata/index/postings_for_matchers.h"
#include "strata/tsdb/errors.h"
#include "tsdb/spin_mutex.h"

namespace strata::tsdb {

namespace {

using model::Labels;
using model::SeriesRef;

constexpr int64_t kMinInt64 = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
// How long Truncate waits for unpinned appenders to end before it leaves series removal to
// its next call.
constexpr auto kGcAppenderWait = std::chrono::seconds(1);

// End of the aligned window of width `width` holding t (Prometheus rangeForTimestamp; Go's
// and C++'s integer division both truncate toward zero).
int64_t RangeForTimestamp(int64_t t, int64_t width) { return (t / width) * width + width; }

// Prometheus computeChunkEndTime: split [start, max) into chunks holding about as many
// samples as the first quarter-chunk took time for.
int64_t ComputeChunkEndTime(int64_t start, int64_t cur, int64_t max) {
  const int64_t n = (max - start) / ((cur - start + 1) * 4);
  if (n <= 1) return max;
  return start + (max - start) / n;
}

void AtomicMin(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load(std::memory_order_relaxed);
  while (v < cur && !a.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
  }
}
void AtomicMax(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
  }
}

// A chunk that no longer takes samples: its bytes in one exact-size allocation.
struct ClosedChunk {
  int64_t mint = 0;
  int64_t maxt = 0;
  std::unique_ptr<char[]> data;
  uint32_t size = 0;
  std::string_view bytes() const { return {data.get(), size}; }
};

}  // namespace

// One series. `lset` and `ref` do not change while the series is live (GC moves `lset` out
// after unlinking it, and a recycled object gets new ones, see Head::Impl::graveyard);
// `ref` is written and, by lock-free lookups that may hold a stale pointer, read under `mu`.
// `hash_next` is guarded by the lock of the series' hash stripe; everything else by `mu`.
struct MemSeries {
  MemSeries(SeriesRef r, Labels l, const chunkenc::XorOptions& opts)
      : ref(r), app(&head_bytes, opts), lset(std::move(l)) {}

  // Makes a removed, unreachable series a new empty one. Requires: GC removed it (so it has
  // no chunks and no pending samples) and it is in no index.
  void Recycle(SeriesRef r, Labels l, const chunkenc::XorOptions& opts) {
    lset = std::move(l);
    hash_next = nullptr;
    wal_logged.store(false, std::memory_order_relaxed);
    SpinMutexLock sl(&mu);
    ref = r;
    chunks.clear();
    std::string().swap(head_bytes);
    app = chunkenc::XorAppender(&head_bytes, opts);
    head_mint = kMaxInt64;
    head_maxt = kMinInt64;
    last_t.store(kMinInt64, std::memory_order_relaxed);
    next_at = kMinInt64;
    pending = 0;
    has_head = false;
    removed = false;
  }

  // The lock and what Append reads under it come first, so a lookup touches one cache line.
  SpinMutex mu;
  bool has_head ABSL_GUARDED_BY(mu) = false;
  bool removed ABSL_GUARDED_BY(mu) = false;  // GC unlinked it; lookups must ignore it
  std::atomic<bool> wal_logged{false};       // its series record reached the WalSink
  uint32_t pending ABSL_GUARDED_BY(mu) = 0;  // appended but not yet committed/rolled back
  SeriesRef ref;
  // has_head ? head_maxt : kMinInt64. Written under mu; read without it by unpinned
  // appenders (HeadAppender::pinned_), whose Append only needs a hint: Commit re-checks.
  std::atomic<int64_t> last_t{kMinInt64};
  int64_t head_maxt ABSL_GUARDED_BY(mu) = kMinInt64;
  int64_t head_mint ABSL_GUARDED_BY(mu) = kMaxInt64;
  int64_t next_at ABSL_GUARDED_BY(mu) = kMinInt64;  // cut the head chunk at this t
  std::string head_bytes ABSL_GUARDED_BY(mu);           // the open chunk's data
  chunkenc::XorAppender app ABSL_GUARDED_BY(mu);        // appends to head_bytes
  std::vector<ClosedChunk> chunks ABSL_GUARDED_BY(mu);  // cut chunks, oldest first
  Labels lset;                     // moved out only by GC after unlinking
  MemSeries* hash_next = nullptr;  // collision chain of equal label hashes

  int64_t MinTimeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!chunks.empty()) return chunks.front().mint;
    return has_head ? head_mint : kMaxInt64;
  }
};

namespace {

// A lock-free index ref -> series for refs below kLimit, so the append path finds a series
// without taking a stripe lock (whose cache line every appending core would otherwise
// write, twice per sample). Slots live in blocks of 2^16 allocated on first use and freed
// only with the table; a slot is set when its series becomes reachable by ref and cleared
// when GC removes it. Larger refs (only from replaying a foreign WAL) are not indexed here.
//
// A pointer read from the table may be stale: GC may remove the series right after the
// load. Head::Impl keeps removed series alive (see graveyard) until no registered appender
// can hold such a pointer, and readers re-check `ref` and `removed` under the series' lock.
//
// Thread-safety: Load is wait-free and may run concurrently with Store/Clear; Store and
// Clear of one ref must not race each other.
class RefTable {
 public:
  static constexpr int kBlockBits = 16;
  static constexpr size_t kBlocks = 4096;
  static constexpr SeriesRef kLimit = SeriesRef{kBlocks} << kBlockBits;  // 2^28

  RefTable() = default;
  RefTable(const RefTable&) = delete;
  RefTable& operator=(const RefTable&) = delete;
  ~RefTable() {
    for (auto& b : blocks_) std::free(b.load(std::memory_order_relaxed));
  }

  MemSeries* Load(SeriesRef ref) const {
    if (ref >= kLimit) return nullptr;
    MemSeries** b = blocks_[ref >> kBlockBits].load(std::memory_order_acquire);
    if (b == nullptr) return nullptr;
    // seq_cst pairs with Clear() and the graveyard check in Head::Truncate (a plain load on
    // x86).
    return std::atomic_ref<MemSeries*>(b[ref & kMask]).load(std::memory_order_seq_cst);
  }
  void Store(SeriesRef ref, MemSeries* s) {
    if (ref >= kLimit) return;
    MemSeries** b = Block(ref >> kBlockBits);
    if (b == nullptr) return;  // out of memory: the ref stays reachable via its stripe
    std::atomic_ref<MemSeries*>(b[ref & kMask]).store(s, std::memory_order_release);
  }
  void Clear(SeriesRef ref) {
    if (ref >= kLimit) return;
    const size_t i = ref >> kBlockBits;
    MemSeries** b = blocks_[i].load(std::memory_order_acquire);
    if (b == nullptr) return;
    MemSeries* old =
        std::atomic_ref<MemSeries*>(b[ref & kMask]).exchange(nullptr, std::memory_order_seq_cst);
    if (old == nullptr) return;
    // Refs are never reused, so once every ref of a block was cleared no slot of it is written
    // again: its pages go back to the kernel (series churn would otherwise keep 8 bytes per
    // ref ever created). A concurrent Load reads nullptr either way, from the slot or from the
    // zero page that replaces it. Ref 0 is never a series, so block 0 has one slot less.
    const uint32_t slots = (SeriesRef{1} << kBlockBits) - (i == 0 ? 1 : 0);
    if (cleared_[i].fetch_add(1, std::memory_order_relaxed) + 1 == slots) {
      const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
      const uintptr_t lo = (reinterpret_cast<uintptr_t>(b) + page - 1) / page * page;
      const uintptr_t hi =
          reinterpret_cast<uintptr_t>(b + (SeriesRef{1} << kBlockBits)) / page * page;
      if (hi > lo && madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED) == 0) {
        released_.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  // Blocks whose pages were given back by Clear.
  uint64_t released_blocks() const { return released_.load(std::memory_order_relaxed); }

 private:
  static constexpr SeriesRef kMask = (SeriesRef{1} << kBlockBits) - 1;

  MemSeries** Block(size_t i) {
    MemSeries** b = blocks_[i].load(std::memory_order_acquire);
    if (b != nullptr) return b;
    // calloc: a large zeroed block comes from mmap, so untouched slots cost no memory.
    auto* fresh =
        static_cast<MemSeries**>(std::calloc(size_t{1} << kBlockBits, sizeof(MemSeries*)));
    if (fresh == nullptr) return nullptr;
    if (blocks_[i].compare_exchange_strong(b, fresh, std::memory_order_acq_rel)) return fresh;
    std::free(fresh);
    return b;
  }

  std::array<std::atomic<MemSeries**>, kBlocks> blocks_{};
  std::array<std::atomic<uint32_t>, kBlocks> cleared_{};  // refs cleared, per block
  std::atomic<uint64_t> released_{0};
};

}  // namespace

struct Head::Impl {
  explicit Impl(HeadOptions o) : opts(std::move(o)) {
    if (opts.stripe_size <= 0 || (opts.stripe_size & (opts.stripe_size - 1)) != 0) {
      opts.stripe_size = 16384;
    }
    if (opts.samples_per_chunk < 4) opts.samples_per_chunk = 120;
    if (opts.chunk_range <= 0) opts.chunk_range = 2 * 60 * 60 * 1000;
    mask = static_cast<uint64_t>(opts.stripe_size - 1);
    stripes = std::make_unique<Stripe[]>(opts.stripe_size);
  }

  // A lock stripe. Stripe locks never nest; a stripe lock is taken before a series' mu, and
  // visibility_mu before both.
  struct Stripe {
    SpinSharedMutex mu;
    absl::flat_hash_map<SeriesRef, std::unique_ptr<MemSeries>> by_ref ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<uint64_t, MemSeries*> by_hash ABSL_GUARDED_BY(mu);
  };

  // Runs of 64 consecutive refs share a stripe: refs are handed out in creation order, so
  // the series of one scrape target (or one bench shard) append under a few stripes whose
  // lock and map stay in cache, instead of touching a cold stripe per sample.
  Stripe& ForRef(SeriesRef ref) const { return stripes[(ref >> 6) & mask]; }
  Stripe& ForHash(uint64_t h) const { return stripes[h & mask]; }

  // The live series `ref`, or null. Increments its pending count when `pend`; sets *newer
  // (if non-null) to whether t is after the series' newest sample.
  MemSeries* GetByRef(SeriesRef ref, bool pend, int64_t t = 0, bool* newer = nullptr);
  // GetByRef(ref, pend, t, newer) through the lock-free table. Requires: the caller is
  // counted in active_appenders (which keeps a stale table pointer's object alive), and, when
  // !pend, in unpinned_appenders (no series is removed meanwhile, so no lock is needed).
  MemSeries* GetByRefForAppend(SeriesRef ref, bool pend, int64_t t, bool* newer);
  static MemSeries* FindInChain(Stripe& hs, uint64_t hash, const Labels& lset)
      ABSL_SHARED_LOCKS_REQUIRED(hs.mu);
  absl::StatusOr<MemSeries*> GetOrCreate(uint64_t hash, const Labels& lset, SeriesRef want_ref,
                                         bool pend, bool* created);
  // Appends a committed sample to `s` with Prometheus's cutting rules. False if t is not
  // after the newest sample (out of order or duplicate): the sample is dropped.
  bool AppendLocked(MemSeries* s, int64_t t, double v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu);
  void CutLocked(MemSeries* s, int64_t t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu);

  int64_t AppendableMinValidTime() const {
    return std::max(min_valid_time.load(std::memory_order_acquire),
                    max_time.load(std::memory_order_acquire) - opts.chunk_range / 2);
  }
  void InitTime(int64_t t) {
    int64_t expect = kMaxInt64;
    min_time.compare_exchange_strong(expect, t);
    expect = kMinInt64;
    max_time.compare_exchange_strong(expect, t);
  }

  HeadOptions opts;
  uint64_t mask = 0;
  std::unique_ptr<Stripe[]> stripes;
  RefTable ref_table;

  // Appenders between their first Append and their Commit/Rollback: they may hold pointers
  // read from ref_table. Truncate frees removed series only when it sees none.
  std::atomic<int64_t> active_appenders{0};
  // Appenders that hold series without pending counts (HeadAppender::pinned_ false), from
  // their first Append to the end of Commit/Rollback. Truncate removes series only while none
  // is counted: it sets gc_removing and waits for the count to drain; an appender that
  // registers meanwhile sees gc_removing and pins its series instead. So the common append
  // touches a series once, at commit, instead of also locking it to pin it at Append.
  std::atomic<int64_t> unpinned_appenders{0};
  std::atomic<bool> gc_removing{false};
  // Series removed by GC whose memory a stale ref_table pointer may still reach. They are
  // reused for new series (so under steady churn this does not grow) and freed when
  // Truncate finds no active appender.
  base::Mutex graveyard_mu;
  std::vector<std::unique_ptr<MemSeries>> graveyard ABSL_GUARDED_BY(graveyard_mu);
  index::MemPostings postings;

  // Commits hold it shared while applying a batch; Select holds it exclusively while it
  // snapshots series, so a snapshot never contains part of a batch.
  base::Mutex visibility_mu;
  // Serialises Truncate() calls.
  base::Mutex truncate_mu;

  std::atomic<int64_t> min_time{kMaxInt64};
  std::atomic<int64_t> max_time{kMinInt64};
  std::atomic<int64_t> min_valid_time{kMinInt64};
  std::atomic<SeriesRef> last_ref{0};

  // Replay: refs logged for labels that already had another ref.
  base::Mutex replay_mu;
  absl::flat_hash_map<SeriesRef, SeriesRef> replay_ref_map ABSL_GUARDED_BY(replay_mu);

  // Deleted intervals by series ref. tomb_mu is a leaf lock: it is taken last and nothing
  // else is acquired while holding it. has_tombstones lets queries skip it while empty.
  mutable base::Mutex tomb_mu;
  block::Tombstones tombstones ABSL_GUARDED_BY(tomb_mu);
  std::atomic<bool> has_tombstones{false};
  // Serialises Delete() calls so WAL order matches the order intervals are applied.
  base::Mutex delete_mu;

  block::Tombstones CopyTombstones() const {
    if (!has_tombstones.load(std::memory_order_acquire)) return {};
    base::MutexLock l(&tomb_mu);
    return tombstones;
  }
  // The live series `ref` (following replay's ref map), or 0.
  SeriesRef ResolveReplayRef(SeriesRef ref);

  std::atomic<uint64_t> num_series{0};
  std::atomic<uint64_t> num_chunks{0};
  std::atomic<uint64_t> samples_appended{0};
  std::atomic<uint64_t> out_of_order{0};
  std::atomic<uint64_t> out_of_bounds{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> series_created{0};
  std::atomic<uint64_t> series_removed{0};
  std::atomic<uint64_t> chunks_removed{0};
  std::atomic<uint64_t> gc_deferred{0};
  std::atomic<uint64_t> pinned_appenders{0};
  std::atomic<uint64_t> unknown_refs{0};
};

MemSeries* Head::Impl::FindInChain(Stripe& hs, uint64_t hash, const Labels& lset) {
  auto it = hs.by_hash.find(hash);
  if (it == hs.by_hash.end()) return nullptr;
  for (MemSeries* s = it->second; s != nullptr; s = s->hash_next) {
    if (s->lset == lset) return s;
  }
  return nullptr;
}

MemSeries* Head::Impl::GetByRefForAppend(SeriesRef ref, bool pend, int64_t t, bool* newer) {
  MemSeries* s = ref_table.Load(ref);
  if (s == nullptr) return GetByRef(ref, pend, t, newer);
  if (!pend) {
    // Not removable while the caller is unpinned, and `newer` is a hint (see last_t).
    *newer = t > s->last_t.load(std::memory_order_relaxed);
    return s;
  }
  SpinMutexLock sl(&s->mu);
  // A stale pointer: removed by GC since the load (perhaps already recycled under another
  // ref). Refs are never reused, so the series is gone.
  if (s->removed || s->ref != ref) return nullptr;
  ++s->pending;
  *newer = !s->has_head || t > s->head_maxt;
  return s;
}

MemSeries* Head::Impl::GetByRef(SeriesRef ref, bool pend, int64_t t, bool* newer) {
  Stripe& st = ForRef(ref);
  SpinReaderLock l(&st.mu);
  auto it = st.by_ref.find(ref);
  if (it == st.by_ref.end()) return nullptr;
  MemSeries* s = it->second.get();
  SpinMutexLock sl(&s->mu);
  if (s->removed) return nullptr;
  if (pend) ++s->pending;
  if (newer != nullptr) *newer = !s->has_head || t > s->head_maxt;
  return s;
}

absl::StatusOr<MemSeries*> Head::Impl::GetOrCreate(uint64_t hash, const Labels& lset,
                                                   SeriesRef want_ref, bool pend,
                                                   bool* created) {
  *created = false;
  Stripe& hs = ForHash(hash);
  {
    SpinReaderLock l(&hs.mu);
    if (MemSeries* s = FindInChain(hs, hash, lset); s != nullptr) {
      // Series in a hash chain are never marked removed: GC unlinks them under hs.mu.
      if (pend) {
        SpinMutexLock sl(&s->mu);
        ++s->pending;
      }
      return s;
    }
  }
  MemSeries* s = nullptr;
  std::unique_ptr<MemSeries> owned;
  {
    SpinWriterLock l(&hs.mu);
    if (MemSeries* found = FindInChain(hs, hash, lset); found != nullptr) {
      if (pend) {
        SpinMutexLock sl(&found->mu);
        ++found->pending;
      }
      return found;
    }
    SeriesRef ref = want_ref;
    if (ref == 0) {
      ref = last_ref.fetch_add(1, std::memory_order_acq_rel) + 1;
    } else {
      SeriesRef cur = last_ref.load(std::memory_order_acquire);
      while (ref > cur && !last_ref.compare_exchange_weak(cur, ref)) {
      }
    }
    {
      base::MutexLock gl(&graveyard_mu);
      if (!graveyard.empty()) {
        owned = std::move(graveyard.back());
        graveyard.pop_back();
      }
    }
    if (owned != nullptr) {
      owned->Recycle(ref, lset, opts.xor_options);
    } else {
      owned = std::make_unique<MemSeries>(ref, lset, opts.xor_options);
    }
    s = owned.get();
    {
      // Pending until it is reachable by ref, so GC (which finds it through the hash
      // chain) leaves it alone in between.
      SpinMutexLock sl(&s->mu);
      s->pending = 1;
    }
    auto [it, inserted] = hs.by_hash.try_emplace(hash, s);
    if (!inserted) {
      s->hash_next = it->second;
      it->second = s;
    }
  }
  const SeriesRef ref = s->ref;
  bool clash = false;
  {
    Stripe& rs = ForRef(ref);
    SpinWriterLock l(&rs.mu);
    auto [it, inserted] = rs.by_ref.try_emplace(ref, std::move(owned));
    clash = !inserted;
  }
  if (clash) {
    // Only replay passes refs; a ref logged for two different label sets is corrupt input.
    // Unlink the new series again.
    {
      SpinWriterLock l(&hs.mu);
      auto it = hs.by_hash.find(hash);
      MemSeries** pp = &it->second;
      while (*pp != s) pp = &(*pp)->hash_next;
      *pp = s->hash_next;
      if (it->second == nullptr) hs.by_hash.erase(it);
    }
    const std::string ls = lset.ToString();
    {
      // It may be a recycled object that a stale ref_table pointer still reaches: back to
      // the graveyard rather than freed.
      SpinMutexLock sl(&s->mu);
      s->removed = true;
      s->pending = 0;
    }
    base::MutexLock gl(&graveyard_mu);
    graveyard.push_back(std::move(owned));
    return absl::DataLossError(
        absl::StrCat("series ref ", ref, " logged for two label sets, the second ", ls));
  }
  ref_table.Store(ref, s);
  postings.Add(ref, lset);
  {
    SpinMutexLock sl(&s->mu);
    if (!pend) s->pending = 0;
  }
  num_series.fetch_add(1, std::memory_order_relaxed);
  series_created.fetch_add(1, std::memory_order_relaxed);
  *created = true;
  return s;
}

void Head::Impl::CutLocked(MemSeries* s, int64_t t) {
  const bool had_samples = s->has_head && s->app.num_samples() > 0;
  if (had_samples) {
    ClosedChunk c;
    c.mint = s->head_mint;
    c.maxt = s->head_maxt;
    c.size = static_cast<uint32_t>(s->head_bytes.size());
    // Exact-size copy; the open chunk's buffer is released and regrows in small steps (see
    // AppendLocked), so an idle series does not keep a full chunk's capacity around.
    c.data = std::make_unique_for_overwrite<char[]>(c.size);
    std::memcpy(c.data.get(), s->head_bytes.data(), c.size);
    s->chunks.push_back(std::move(c));
    std::string().swap(s->head_bytes);
  }
  if (had_samples || !s->has_head) num_chunks.fetch_add(1, std::memory_order_relaxed);
  s->app = chunkenc::XorAppender(&s->head_bytes, opts.xor_options);
  s->has_head = true;
  s->head_mint = t;
  s->head_maxt = kMinInt64;
  s->next_at = RangeForTimestamp(t, opts.chunk_range);
}

bool Head::Impl::AppendLocked(MemSeries* s, int64_t t, double v) {
  if (!s->has_head) {
    CutLocked(s, t);
  } else if (s->head_maxt >= t) {
    return false;
  }
  const int n = s->app.num_samples();
  // At a quarter of the target, predict an end time that spreads the rest of the window
  // evenly over chunks of about samples_per_chunk samples (tsdb/head_append.go).
  if (n == opts.samples_per_chunk / 4) {
    s->next_at = ComputeChunkEndTime(s->head_mint, s->head_maxt, s->next_at);
  }
  // Twice the target means the rate rose after the prediction: cut conservatively.
  if (t >= s->next_at || n >= opts.samples_per_chunk * 2) CutLocked(s, t);
  // Size the open chunk for the samples it is expected to get instead of std::string's
  // doubling, which would leave up to half of every series' open chunk unused: once a
  // quarter of samples_per_chunk shows the series' bytes per sample, reserve for
  // samples_per_chunk of them; before that, and past the target, grow by a quarter.
  // (Growing by small steps throughout cost a reallocation every ten samples.) The first
  // sample takes up to 20 bytes (count, full timestamp and value), later ones at most 20.
  std::string& b = s->head_bytes;
  if (b.capacity() - b.size() < 24) {
    const size_t size = b.size();
    size_t want = size + size / 4 + 32;
    const auto target = static_cast<size_t>(opts.samples_per_chunk);
    const auto have = static_cast<size_t>(s->app.num_samples());
    if (have >= target / 4 && have < target && size > 20) {
      want = std::max(want, size + (size - 20) * (target - have) / (have - 1) + 24);
    }
    b.reserve(want);
  }
  s->app.Append(t, v);
  s->head_maxt = t;
  s->last_t.store(t, std::memory_order_relaxed);
  return true;
}

// ---------------------------------------------------------------------------------------
// Appender.

namespace {

struct PendingSample {
  MemSeries* s;
  SeriesRef ref;  // s->ref, kept here so logging the batch does not touch the series again
  int64_t t;
  double v;
};

}  // namespace

class HeadAppender final : public storage::Appender {
 public:
  explicit HeadAppender(Head::Impl* h) : h_(h) {
    if (h_->min_time.load(std::memory_order_acquire) != kMaxInt64) {
      min_valid_ = h_->AppendableMinValidTime();
      init_ = true;
    }
    // Reuse this thread's last batch buffer: appenders are usually one per scrape, and
    // growing a fresh vector to a scrape's size cost a dozen allocations per commit.
    samples_.swap(SampleCache());
  }
  ~HeadAppender() override {
    if (!done_) Release();
    Unregister();
    std::vector<PendingSample>& cache = SampleCache();
    if (samples_.capacity() <= kMaxCachedSamples && samples_.capacity() > cache.capacity()) {
      samples_.clear();
      cache.swap(samples_);
    }
  }

  absl::StatusOr<SeriesRef> Append(SeriesRef ref, const Labels& lset, int64_t t,
                                   double v) override {
    if (done_) return absl::FailedPreconditionError("append: appender already finished");
    if (!init_) {
      // The first sample of an empty head fixes its time range (Prometheus initAppender).
      h_->InitTime(t);
      min_valid_ = h_->AppendableMinValidTime();
      init_ = true;
    }
    if (t < min_valid_) {
      h_->out_of_bounds.fetch_add(1, std::memory_order_relaxed);
      return OutOfBoundsError(lset.empty() ? std::to_string(ref) : lset.ToString(), t,
                              min_valid_);
    }
    if (!registered_) Register();
    // Common case: a known ref and a sample newer than the series' last. Pinned, the lookup
    // checks that under the lock it takes anyway; unpinned, it takes no lock.
    bool newer = false;
    MemSeries* s = nullptr;
    if (ref != 0) s = h_->GetByRefForAppend(ref, pinned_, t, &newer);
    if (s != nullptr && newer) {
      if (!s->wal_logged.load(std::memory_order_acquire)) unlogged_.push_back(s);
      samples_.push_back({s, s->ref, t, v});
      return s->ref;
    }
    if (s == nullptr) {
      if (lset.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("append: empty label set (series ref ", ref, " not found)"));
      }
      bool created = false;
      auto got = h_->GetOrCreate(lset.Hash(), lset, 0, /*pend=*/pinned_, &created);
      if (!got.ok()) return got.status();
      s = *got;
      if (created) {
        // Pinned, created_ holds its own pending count (released at Commit/Rollback) so the
        // series outlives this appender's use of it for the WAL even if this sample is
        // refused.
        if (pinned_) {
          SpinMutexLock l(&s->mu);
          ++s->pending;
        }
        created_.push_back(s);
      }
    }
    {
      SpinMutexLock l(&s->mu);
      absl::Status err;
      if (s->has_head && t <= s->head_maxt) {
        if (t < s->head_maxt) {
          h_->out_of_order.fetch_add(1, std::memory_order_relaxed);
          err = OutOfOrderSampleError(s->lset.ToString(), t);
        } else if (std::bit_cast<uint64_t>(v) != std::bit_cast<uint64_t>(LastValueLocked(s))) {
          h_->duplicates.fetch_add(1, std::memory_order_relaxed);
          err = DuplicateSampleError(s->lset.ToString(), t);
        }
        // Same t and same value: accepted here, dropped silently at commit.
      }
      if (!err.ok()) {
        if (pinned_) --s->pending;
        return err;
      }
    }
    if (!s->wal_logged.load(std::memory_order_acquire)) unlogged_.push_back(s);
    samples_.push_back({s, s->ref, t, v});
    return s->ref;
  }

  absl::Status Commit() override {
    if (done_) return absl::FailedPreconditionError("commit: appender already finished");
    done_ = true;
    if (h_->opts.wal != nullptr) {
      absl::Status st = LogToWal(/*with_samples=*/true);
      if (!st.ok()) {
        Release();
        Unregister();
        return base::Annotate(st, "commit: write-ahead log");
      }
    }
    int64_t mint = kMaxInt64, maxt = kMinInt64;
    uint64_t appended = 0, ooo = 0;
    {
      base::ReaderMutexLock vis(&h_->visibility_mu);
      const size_t n = samples_.size();
      for (size_t i = 0; i < n; ++i) {
        const PendingSample& p = samples_[i];
        // The series' lock and state are usually out of cache by commit time; fetch a few
        // ahead so the lock's atomic exchange does not wait for memory.
        if (i + 8 < n) __builtin_prefetch(samples_[i + 8].s, 1);
        SpinMutexLock l(&p.s->mu);
        if (h_->AppendLocked(p.s, p.t, p.v)) {
          ++appended;
          mint = std::min(mint, p.t);
          maxt = std::max(maxt, p.t);
        } else if (p.t < p.s->head_maxt) {
          ++ooo;  // out of order within the batch (or against a concurrent commit)
        }
        if (pinned_) --p.s->pending;
      }
      if (appended > 0) {
        AtomicMin(h_->min_time, mint);
        AtomicMax(h_->max_time, maxt);
      }
    }
    if (pinned_) {
      for (MemSeries* s : created_) {
        SpinMutexLock l(&s->mu);
        --s->pending;  // the pending taken at creation
      }
    }
    Unregister();
    h_->samples_appended.fetch_add(appended, std::memory_order_relaxed);
    h_->out_of_order.fetch_add(ooo, std::memory_order_relaxed);
    samples_.clear();
    created_.clear();
    unlogged_.clear();
    return absl::OkStatus();
  }

  absl::Status Rollback() override {
    if (done_) return absl::FailedPreconditionError("rollback: appender already finished");
    done_ = true;
    absl::Status st;
    // Series exist in the head whether or not the batch is kept, so log them anyway.
    if (h_->opts.wal != nullptr) st = LogToWal(/*with_samples=*/false);
    Release();
    Unregister();
    return base::Annotate(st, "rollback: write-ahead log");
  }

 private:
  static double LastValueLocked(MemSeries* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
    // The newest sample is the last of the open chunk; decoding it is rare (only on equal
    // timestamps) so no per-series copy is kept.
    chunkenc::XorIterator it(s->head_bytes);
    double v = 0;
    while (it.Next()) v = it.At().v;
    return v;
  }

  static constexpr size_t kMaxCachedSamples = size_t{1} << 16;
  static std::vector<PendingSample>& SampleCache() {
    thread_local std::vector<PendingSample> cache;
    return cache;
  }

  // Starts this appender's use of lock-free lookups, unpinned unless Truncate is removing
  // series (see Head::Impl::unpinned_appenders). seq_cst: the increment and gc_removing's
  // load pair with Truncate's store of gc_removing and load of the count, so one of the two
  // sees the other.
  void Register() {
    registered_ = true;
    h_->active_appenders.fetch_add(1, std::memory_order_seq_cst);
    h_->unpinned_appenders.fetch_add(1, std::memory_order_seq_cst);
    pinned_ = h_->gc_removing.load(std::memory_order_seq_cst);
    if (pinned_) {
      h_->unpinned_appenders.fetch_sub(1, std::memory_order_seq_cst);
      h_->pinned_appenders.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Ends it: from here on this appender holds no series.
  void Unregister() {
    if (!registered_) return;
    registered_ = false;
    if (!pinned_) h_->unpinned_appenders.fetch_sub(1, std::memory_order_seq_cst);
    h_->active_appenders.fetch_sub(1, std::memory_order_seq_cst);
  }

  // Drops the pending counts this appender holds, if pinned.
  void Release() {
    if (pinned_) {
      for (const PendingSample& p : samples_) {
        SpinMutexLock l(&p.s->mu);
        --p.s->pending;
      }
      for (MemSeries* s : created_) {
        SpinMutexLock l(&s->mu);
        --s->pending;
      }
    }
    samples_.clear();
    created_.clear();
    unlogged_.clear();
  }

  absl::Status LogToWal(bool with_samples) {
    // Series records first: every series created here, and any series of a sample whose
    // record has not been logged yet (its creator may not have committed), so a sample is
    // never in the log without its series.
    std::vector<record::RefSeries> series;
    absl::flat_hash_set<MemSeries*> seen;
    // Reused per thread: one commit's samples are staged here until the sink encodes them.
    thread_local std::vector<record::RefSample> samples;
    samples.clear();
    auto want = [&](MemSeries* s) {
      if (s->wal_logged.load(std::memory_order_acquire)) return;
      if (!seen.insert(s).second) return;
      series.push_back({s->ref, s->lset});
    };
    for (MemSeries* s : created_) want(s);
    if (with_samples) {
      // Series whose record was not logged when their sample was appended (logged once
      // more if a concurrent commit logged it since, which replay treats as one series).
      for (MemSeries* s : unlogged_) want(s);
      samples.resize(samples_.size());
      for (size_t i = 0; i < samples_.size(); ++i) {
        const PendingSample& p = samples_[i];
        samples[i] = {p.ref, p.t, p.v};
      }
    }
    if (series.empty() && samples.empty()) return absl::OkStatus();
    absl::Status st = h_->opts.wal->Log(series, samples);
    // A huge batch (a bulk load) must not pin its staging memory in this thread.
    if (samples.capacity() > (size_t{1} << 16)) std::vector<record::RefSample>().swap(samples);
    STRATA_RETURN_IF_ERROR(st);
    for (MemSeries* s : seen) s->wal_logged.store(true, std::memory_order_release);
    return absl::OkStatus();
  }

  Head::Impl* h_;
  bool init_ = false;
  bool done_ = false;
  bool registered_ = false;  // counted in h_->active_appenders
  // Holds a pending count on every series it uses (registered while Truncate was removing
  // series); otherwise counted in h_->unpinned_appenders until it ends.
  bool pinned_ = true;
  int64_t min_valid_ = kMinInt64;
  std::vector<PendingSample> samples_;
  std::vector<MemSeries*> created_;
  std::vector<MemSeries*> unlogged_;  // series of samples_ without a logged series record
};

// ---------------------------------------------------------------------------------------
// Querier.

namespace {

struct ChunkSpan {
  int64_t mint;
  int64_t maxt;
  uint32_t off;
  uint32_t len;
};

// Samples of a snapshot's chunks, clipped to [mint, maxt], without deleted samples.
class HeadSampleIterator final : public storage::SampleIterator {
 public:
  HeadSampleIterator(const std::string* data, const std::vector<ChunkSpan>* chunks,
                     int64_t mint, int64_t maxt, const block::Intervals* deleted)
      : data_(data), chunks_(chunks), mint_(mint), maxt_(maxt), deleted_(deleted) {}

  bool Next() override {
    if (done_) return false;
    if (!positioned_) return Seek(mint_);
    return Advance();
  }

  bool Seek(int64_t t) override {
    if (done_) return false;
    if (positioned_ && it_.AtT() >= t) return true;
    if (t < mint_) t = mint_;
    // Skip whole chunks that end before t.
    size_t i = ci_;
    if (!positioned_ && !opened_) i = 0;
    while (i < chunks_->size() && (*chunks_)[i].maxt < t) ++i;
    if (i != ci_ || !opened_) {
      if (!Open(i)) return Finish();
    }
    for (;;) {
      if (it_.Seek(t)) {
        positioned_ = true;
        if (it_.AtT() > maxt_) return Finish();
        if (Deleted(it_.AtT())) return Advance();
        return true;
      }
      if (!it_.status().ok()) return Fail(it_.status());
      if (!Open(ci_ + 1)) return Finish();
    }
  }

  model::Sample At() const override { return it_.At(); }
  absl::Status status() const override { return err_; }

 private:
  bool Deleted(int64_t t) const { return !deleted_->empty() && block::IsDeleted(*deleted_, t); }
  // Moves to the next sample that is in range and not deleted. Requires: positioned.
  bool Advance() {
    for (;;) {
      if (it_.Next()) {
        if (it_.AtT() > maxt_) return Finish();
        if (Deleted(it_.AtT())) continue;
        return true;
      }
      if (!it_.status().ok()) return Fail(it_.status());
      // Later chunks start after this one ends, so after mint too.
      if (!Open(ci_ + 1)) return Finish();
    }
  }
  bool Open(size_t i) {
    if (i >= chunks_->size() || (*chunks_)[i].mint > maxt_) return false;
    ci_ = i;
    const ChunkSpan& c = (*chunks_)[i];
    it_.Reset(std::string_view(*data_).substr(c.off, c.len));
    opened_ = true;
    return true;
  }
  bool Finish() {
    done_ = true;
    return false;
  }
  bool Fail(absl::Status s) {
    err_ = std::move(s);
    return Finish();
  }

  const std::string* data_;
  const std::vector<ChunkSpan>* chunks_;
  int64_t mint_, maxt_;
  const block::Intervals* deleted_;  // owned by the series snapshot
  chunkenc::XorIterator it_;
  size_t ci_ = 0;
  bool opened_ = false;      // it_ iterates chunk ci_
  bool positioned_ = false;  // it_ sits on a sample (At() valid)
  bool done_ = false;
  absl::Status err_;
};

// A series copied out of the head: labels and the chunks overlapping the query range, all
// bytes in one buffer.
class HeadSeriesSnapshot final : public storage::Series {
 public:
  HeadSeriesSnapshot(Labels lset, int64_t mint, int64_t maxt, block::Intervals deleted)
      : lset_(std::move(lset)), mint_(mint), maxt_(maxt), deleted_(std::move(deleted)) {}
  const Labels& labels() const override { return lset_; }
  std::unique_ptr<storage::SampleIterator> Iterator(
      std::unique_ptr<storage::SampleIterator>) const override {
    return std::make_unique<HeadSampleIterator>(&data_, &chunks_, mint_, maxt_, &deleted_);
  }
  void AddChunk(int64_t mint, int64_t maxt, std::string_view bytes) {
    chunks_.push_back({mint, maxt, static_cast<uint32_t>(data_.size()),
                       static_cast<uint32_t>(bytes.size())});
    data_.append(bytes);
  }
  bool empty() const { return chunks_.empty(); }

 private:
  Labels lset_;
  int64_t mint_, maxt_;
  block::Intervals deleted_;
  std::string data_;
  std::vector<ChunkSpan> chunks_;
};

}  // namespace

class HeadQuerier final : public storage::Querier {
 public:
  HeadQuerier(Head::Impl* h, int64_t mint, int64_t maxt) : h_(h), mint_(mint), maxt_(maxt) {}

  std::unique_ptr<storage::SeriesSet> Select(const std::vector<model::Matcher>& matchers,
                                             const storage::SelectHints* hints) override {
    int64_t mint = mint_, maxt = maxt_;
    if (hints != nullptr && (hints->start != 0 || hints->end != 0)) {
      mint = std::max(mint, hints->start);
      maxt = std::min(maxt, hints->end);
    }
    if (matchers.empty()) {
      return storage::EmptySeriesSet(
          absl::InvalidArgumentError("select: at least one matcher is required"));
    }
    std::vector<SeriesRef> refs;
    absl::Status st = Refs(matchers, &refs);
    if (!st.ok()) return storage::EmptySeriesSet(st);

    // Deleted intervals as of now; a Delete racing with this Select may or may not be seen.
    const block::Tombstones stones = h_->CopyTombstones();
    std::vector<std::unique_ptr<storage::Series>> out;
    {
      base::MutexLock vis(&h_->visibility_mu);
      for (SeriesRef ref : refs) {
        Head::Impl::Stripe& rs = h_->ForRef(ref);
        SpinReaderLock l(&rs.mu);
        auto it = rs.by_ref.find(ref);
        if (it == rs.by_ref.end()) continue;  // removed by GC since the postings lookup
        MemSeries* s = it->second.get();
        SpinMutexLock sl(&s->mu);
        if (s->removed) continue;
        std::unique_ptr<HeadSeriesSnapshot> snap;
        const block::Intervals& deleted = stones.Get(ref);
        auto add = [&](int64_t cmint, int64_t cmaxt, std::string_view bytes) {
          if (cmaxt < mint || cmint > maxt) return;
          // A chunk wholly deleted is skipped; a series left without chunks is not returned
          // (Prometheus's blockBaseSeriesSet).
          if (!deleted.empty() && block::IsSubrange(deleted, cmint, cmaxt)) return;
          if (snap == nullptr) {
            snap = std::make_unique<HeadSeriesSnapshot>(s->lset, mint, maxt, deleted);
          }
          snap->AddChunk(cmint, cmaxt, bytes);
        };
        for (const ClosedChunk& c : s->chunks) add(c.mint, c.maxt, c.bytes());
        if (s->has_head && s->app.num_samples() > 0) {
          add(s->head_mint, s->head_maxt, s->head_bytes);
        }
        if (snap != nullptr) out.push_back(std::move(snap));
      }
    }
    return std::make_unique<storage::VectorSeriesSet>(std::move(out));
  }

  absl::StatusOr<std::vector<std::string>> LabelNames(
      const std::vector<model::Matcher>& matchers) override {
    if (!Overlaps()) return std::vector<std::string>{};
    if (matchers.empty()) return h_->postings.LabelNames();
    std::vector<SeriesRef> refs;
    STRATA_RETURN_IF_ERROR(Refs(matchers, &refs));
    absl::flat_hash_set<std::string> names;
    ForLabels(refs, [&names](const Labels& l) {
      for (const model::Label& x : l) names.insert(std::string(x.name));
    });
    std::vector<std::string> out(names.begin(), names.end());
    std::sort(out.begin(), out.end());
    return out;
  }

  absl::StatusOr<std::vector<std::string>> LabelValues(
      const std::string& name, const std::vector<model::Matcher>& matchers) override {
    if (!Overlaps()) return std::vector<std::string>{};
    if (matchers.empty()) return h_->postings.LabelValues(name);
    // Only series that have the label: add name!="" as upstream labelValuesWithMatchers.
    std::vector<model::Matcher> ms = matchers;
    auto has = model::Matcher::Create(model::MatchType::kNotEqual, name, "");
    if (!has.ok()) return has.status();
    ms.push_back(*std::move(has));
    std::vector<SeriesRef> refs;
    STRATA_RETURN_IF_ERROR(Refs(ms, &refs));
    absl::flat_hash_set<std::string> values;
    ForLabels(refs, [&values, &name](const Labels& l) {
      std::string_view v = l.Get(name);
      if (!v.empty()) values.insert(std::string(v));
    });
    std::vector<std::string> out(values.begin(), values.end());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  bool Overlaps() const {
    const int64_t hmin = h_->min_time.load(std::memory_order_acquire);
    const int64_t hmax = h_->max_time.load(std::memory_order_acquire);
    return !(mint_ > hmax || maxt_ < hmin);
  }

  absl::Status Refs(const std::vector<model::Matcher>& ms, std::vector<SeriesRef>* refs) {
    auto reader = index::NewMemPostingsReader(h_->postings);
    auto p = index::PostingsForMatchers(*reader, ms);
    if (!p.ok()) return p.status();
    return index::ExpandPostings(**p, refs);
  }

  template <typename Fn>
  void ForLabels(const std::vector<SeriesRef>& refs, Fn fn) {
    for (SeriesRef ref : refs) {
      Head::Impl::Stripe& rs = h_->ForRef(ref);
      SpinReaderLock l(&rs.mu);
      auto it = rs.by_ref.find(ref);
      if (it == rs.by_ref.end()) continue;
      fn(it->second->lset);
    }
  }

  Head::Impl* h_;
  int64_t mint_, maxt_;
};

// ---------------------------------------------------------------------------------------
// Head.

Head::Head(HeadOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
Head::~Head() = default;

const HeadOptions& Head::options() const { return impl_->opts; }
int64_t Head::MinTime() const { return impl_->min_time.load(std::memory_order_acquire); }
int64_t Head::MaxTime() const { return impl_->max_time.load(std::memory_order_acquire); }

std::unique_ptr<storage::Appender> Head::NewAppender() {
  return std::make_unique<HeadAppender>(impl_.get());
}

absl::StatusOr<std::unique_ptr<storage::Querier>> Head::NewQuerier(int64_t mint, int64_t maxt) {
  return std::unique_ptr<storage::Querier>(std::make_unique<HeadQuerier>(impl_.get(), mint, maxt));
}

absl::Status Head::Truncate(int64_t mint) {
  Impl& h = *impl_;
  base::MutexLock tl(&h.truncate_mu);
  AtomicMax(h.min_valid_time, mint);
  // Series may be removed only once no unpinned appender holds one (see
  // Impl::unpinned_appenders). Those end with their commit; one kept open longer (or by
  // this thread) defers removal to the next call rather than blocking it.
  h.gc_removing.store(true, std::memory_order_seq_cst);
  bool may_remove = false;
  // An appender usually ends within a commit's time: yield first, and sleep only once it
  // takes longer (a fixed sleep made every Truncate under appends last at least one).
  int polls = 0;
  for (const auto deadline = std::chrono::steady_clock::now() + kGcAppenderWait;;) {
    if (h.unpinned_appenders.load(std::memory_order_seq_cst) == 0) {
      may_remove = true;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    if (++polls <= 1000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
  if (!may_remove) h.gc_deferred.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::pair<SeriesRef, Labels>> deleted;
  std::vector<MemSeries*> dead;
  std::vector<std::unique_ptr<MemSeries>> removed;
  int64_t actual_min = kMaxInt64;
  uint64_t chunks_dropped = 0;
  for (uint64_t i = 0; i <= h.mask; ++i) {
    Impl::Stripe& hs = h.stripes[i];
    dead.clear();
    {
      SpinWriterLock l(&hs.mu);
      for (auto it = hs.by_hash.begin(); it != hs.by_hash.end();) {
        MemSeries** pp = &it->second;
        while (*pp != nullptr) {
          MemSeries* s = *pp;
          bool remove = false;
          {
            SpinMutexLock sl(&s->mu);
            size_t drop = 0;
            while (drop < s->chunks.size() && s->chunks[drop].maxt < mint) ++drop;
            if (drop > 0) {
              s->chunks.erase(s->chunks.begin(), s->chunks.begin() + drop);
              chunks_dropped += drop;
            }
            if (s->has_head && s->head_maxt < mint) {
              // Prometheus drops the open chunk too once it is wholly before mint; a pending
              // sample then starts a new one at commit.
              s->has_head = false;
              s->last_t.store(kMinInt64, std::memory_order_relaxed);
              std::string().swap(s->head_bytes);
              s->app = chunkenc::XorAppender(&s->head_bytes, h.opts.xor_options);
              ++chunks_dropped;
            }
            if (may_remove && !s->has_head && s->chunks.empty() && s->pending == 0) {
              s->removed = true;
              remove = true;
            } else if (s->has_head || !s->chunks.empty()) {
              actual_min = std::min(actual_min, s->MinTimeLocked());
            }
          }
          if (remove) {
            *pp = s->hash_next;
            dead.push_back(s);
          } else {
            pp = &s->hash_next;
          }
        }
        if (it->second == nullptr) {
          hs.by_hash.erase(it++);
        } else {
          ++it;
        }
      }
    }
    // Unlinked from the hash chain and marked removed, so lookups by ref ignore them; free
    // them under their ref stripe, which no reader holds while touching them.
    for (MemSeries* s : dead) {
      Impl::Stripe& rs = h.ForRef(s->ref);
      h.ref_table.Clear(s->ref);
      std::unique_ptr<MemSeries> owned;
      {
        SpinWriterLock rl(&rs.mu);
        auto node = rs.by_ref.extract(s->ref);
        owned = std::move(node.mapped());
      }
      deleted.emplace_back(owned->ref, std::move(owned->lset));
      removed.push_back(std::move(owned));
    }
  }
  // Every removed series has left ref_table, the stripes and the hash chains: appenders that
  // register from here on cannot reach one.
  h.gc_removing.store(false, std::memory_order_seq_cst);
  h.postings.Delete(deleted);
  {
    base::MutexLock gl(&h.graveyard_mu);
    for (auto& s : removed) h.graveyard.push_back(std::move(s));
    // Every removed series left ref_table above (seq_cst), before this load: an appender
    // that read one of them registered before its read and is still counted, so none
    // counted means no pointer to a graveyard object is held.
    if (h.active_appenders.load(std::memory_order_seq_cst) == 0) h.graveyard.clear();
  }
  if (h.has_tombstones.load(std::memory_order_acquire)) {
    // As Prometheus's gc: forget removed series' intervals and those before mint.
    base::MutexLock l(&h.tomb_mu);
    for (const auto& d : deleted) h.tombstones.DeleteSeries(d.first);
    h.tombstones.TruncateBefore(mint);
  }
  h.num_series.fetch_sub(deleted.size(), std::memory_order_relaxed);
  h.series_removed.fetch_add(deleted.size(), std::memory_order_relaxed);
  h.num_chunks.fetch_sub(chunks_dropped, std::memory_order_relaxed);
  h.chunks_removed.fetch_add(chunks_dropped, std::memory_order_relaxed);
  // The head now starts at mint, or later if its oldest remaining sample is later.
  if (h.min_time.load() != kMaxInt64) {
    const int64_t nmin = actual_min == kMaxInt64 ? mint : std::max(mint, actual_min);
    AtomicMax(h.min_time, nmin);
  }
  return absl::OkStatus();
}

absl::Status Head::ReplaySeries(std::span<const record::RefSeries> series) {
  Impl& h = *impl_;
  for (const record::RefSeries& rs : series) {
    if (rs.labels.empty() || rs.ref == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("replay: series record with ref ", rs.ref, " and labels ",
                       rs.labels.ToString(), " is invalid"));
    }
    bool created = false;
    auto got = h.GetOrCreate(rs.labels.Hash(), rs.labels, rs.ref, /*pend=*/false, &created);
    if (!got.ok()) return base::Annotate(got.status(), "replay");
    MemSeries* s = *got;
    s->wal_logged.store(true, std::memory_order_release);
    if (!created && s->ref != rs.ref) {
      base::MutexLock l(&h.replay_mu);
      h.replay_ref_map[rs.ref] = s->ref;
    }
  }
  return absl::OkStatus();
}

absl::Status Head::ReplaySamples(std::span<const record::RefSample> samples) {
  Impl& h = *impl_;
  int64_t mint = kMaxInt64, maxt = kMinInt64;
  uint64_t appended = 0;
  const int64_t min_valid = h.min_valid_time.load(std::memory_order_acquire);
  for (const record::RefSample& rs : samples) {
    MemSeries* s = h.GetByRef(rs.ref, /*pend=*/false);
    if (s == nullptr) {
      SeriesRef mapped = 0;
      {
        base::MutexLock l(&h.replay_mu);
        auto it = h.replay_ref_map.find(rs.ref);
        if (it != h.replay_ref_map.end()) mapped = it->second;
      }
      if (mapped != 0) s = h.GetByRef(mapped, /*pend=*/false);
    }
    if (s == nullptr) {
      h.unknown_refs.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (rs.t < min_valid) {
      h.out_of_bounds.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    SpinMutexLock l(&s->mu);
    if (h.AppendLocked(s, rs.t, rs.v)) {
      ++appended;
      mint = std::min(mint, rs.t);
      maxt = std::max(maxt, rs.t);
    } else if (rs.t < s->head_maxt) {
      h.out_of_order.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (appended > 0) {
    AtomicMin(h.min_time, mint);
    AtomicMax(h.max_time, maxt);
  }
  h.samples_appended.fetch_add(appended, std::memory_order_relaxed);
  return absl::OkStatus();
}

uint64_t Head::replay_unknown_refs() const { return impl_->unknown_refs.load(); }

SeriesRef Head::Impl::ResolveReplayRef(SeriesRef ref) {
  if (GetByRef(ref, /*pend=*/false) != nullptr) return ref;
  SeriesRef mapped = 0;
  {
    base::MutexLock l(&replay_mu);
    auto it = replay_ref_map.find(ref);
    if (it != replay_ref_map.end()) mapped = it->second;
  }
  if (mapped != 0 && GetByRef(mapped, /*pend=*/false) != nullptr) return mapped;
  return 0;
}

absl::Status Head::ReplayTombstones(std::span<const record::RefTombstone> stones) {
  Impl& h = *impl_;
  const int64_t min_valid = h.min_valid_time.load(std::memory_order_acquire);
  for (const record::RefTombstone& t : stones) {
    // Prometheus's loadWAL: intervals wholly before the persisted range are obsolete.
    if (t.maxt < min_valid) continue;
    const SeriesRef ref = h.ResolveReplayRef(t.ref);
    if (ref == 0) {
      h.unknown_refs.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    base::MutexLock l(&h.tomb_mu);
    h.tombstones.Add(ref, {t.mint, t.maxt});
    h.has_tombstones.store(true, std::memory_order_release);
  }
  return absl::OkStatus();
}

absl::Status Head::Delete(int64_t mint, int64_t maxt,
                          const std::vector<model::Matcher>& matchers) {
  Impl& h = *impl_;
  base::MutexLock dl(&h.delete_mu);
  // Nothing beyond the head's current range is deleted (Prometheus clamps the same way).
  const block::Interval r = block::ClampInterval(mint, maxt, MinTime(), MaxTime());
  auto reader = index::NewMemPostingsReader(h.postings);
  auto p = index::PostingsForMatchers(*reader, matchers);
  if (!p.ok()) return base::Annotate(p.status(), "head delete: select series");
  std::vector<record::RefTombstone> stones;
  while ((*p)->Next()) {
    const SeriesRef ref = (*p)->At();
    Impl::Stripe& st = h.ForRef(ref);
    SpinReaderLock l(&st.mu);
    auto it = st.by_ref.find(ref);
    if (it == st.by_ref.end()) continue;  // removed by Truncate since the postings lookup
    MemSeries* s = it->second.get();
    int64_t t0, t1;
    {
      SpinMutexLock sl(&s->mu);
      if (s->removed) continue;
      const bool head_has = s->has_head && s->app.num_samples() > 0;
      if (!head_has && s->chunks.empty()) continue;  // no samples: nothing to delete
      t0 = !s->chunks.empty() ? s->chunks.front().mint : s->head_mint;
      t1 = head_has ? s->head_maxt : s->chunks.back().maxt;
    }
    // Delete only up to the series' own samples, not beyond.
    const block::Interval iv = block::ClampInterval(r.mint, r.maxt, t0, t1);
    // Prometheus would also record the empty (inverted) interval of a series with no samples
    // in the range; it can never match a sample, so it is not logged.
    if (iv.mint > iv.maxt) continue;
    stones.push_back({ref, iv.mint, iv.maxt});
  }
  STRATA_RETURN_IF_ERROR((*p)->status());
  if (stones.empty()) return absl::OkStatus();
  if (h.opts.wal != nullptr) {
    absl::Status st = h.opts.wal->LogTombstones(stones);
    if (!st.ok()) return base::Annotate(st, "head delete: write-ahead log");
  }
  base::MutexLock l(&h.tomb_mu);
  for (const record::RefTombstone& t : stones) h.tombstones.Add(t.ref, {t.mint, t.maxt});
  h.has_tombstones.store(true, std::memory_order_release);
  return absl::OkStatus();
}

block::Tombstones Head::TombstonesSnapshot() const { return impl_->CopyTombstones(); }

HeadStats Head::Stats() const {
  const Impl& h = *impl_;
  HeadStats s;
  s.num_series = h.num_series.load();
  s.num_chunks = h.num_chunks.load();
  s.samples_appended = h.samples_appended.load();
  s.out_of_order_samples = h.out_of_order.load();
  s.out_of_bounds_samples = h.out_of_bounds.load();
  s.duplicate_samples = h.duplicates.load();
  s.series_created = h.series_created.load();
  s.series_removed = h.series_removed.load();
  s.chunks_removed = h.chunks_removed.load();
  s.ref_table_blocks_released = h.ref_table.released_blocks();
  s.gc_deferred = h.gc_deferred.load();
  s.pinned_appenders = h.pinned_appenders.load();
  return s;
}

namespace {

// The chunks of `s` as views into its memory. Requires: s.mu held.
void ChunkViewsLocked(const MemSeries& s, std::vector<HeadChunkView>* views) {
  views->clear();
  for (const ClosedChunk& c : s.chunks) views->push_back({c.mint, c.maxt, c.bytes()});
  if (s.has_head && s.app.num_samples() > 0) {
    views->push_back({s.head_mint, s.head_maxt, s.head_bytes});
  }
}

}  // namespace

void Head::ForEachSeries(const std::function<void(model::SeriesRef, const model::Labels&,
                                                  std::span<const HeadChunkView>)>& fn) const {
  std::vector<HeadChunkView> views;
  for (uint64_t i = 0; i <= impl_->mask; ++i) {
    Impl::Stripe& rs = impl_->stripes[i];
    SpinReaderLock l(&rs.mu);
    for (const auto& [ref, s] : rs.by_ref) {
      SpinMutexLock sl(&s->mu);
      if (s->removed) continue;
      ChunkViewsLocked(*s, &views);
      fn(ref, s->lset, views);
    }
  }
}

void Head::ForEachSeriesSorted(
    const std::function<void(model::SeriesRef, const model::Labels&,
                             std::span<const HeadChunkView>)>& fn) const {
  std::vector<std::pair<model::Labels, SeriesRef>> order;
  order.reserve(impl_->num_series.load(std::memory_order_relaxed));
  ForEachSeries([&](SeriesRef ref, const model::Labels& lset, std::span<const HeadChunkView>) {
    order.emplace_back(lset, ref);
  });
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<HeadChunkView> views;
  std::string bytes;
  for (const auto& [lset, ref] : order) {
    {
      Impl::Stripe& rs = impl_->ForRef(ref);
      SpinReaderLock l(&rs.mu);
      auto it = rs.by_ref.find(ref);
      if (it == rs.by_ref.end()) continue;
      MemSeries& s = *it->second;
      SpinMutexLock sl(&s.mu);
      if (s.removed) continue;
      ChunkViewsLocked(s, &views);
      // Copied so that `fn` runs without locks; the views are re-pointed below.
      bytes.clear();
      for (const HeadChunkView& v : views) bytes.append(v.bytes);
    }
    size_t off = 0;
    for (HeadChunkView& v : views) {
      v.bytes = std::string_view(bytes).substr(off, v.bytes.size());
      off += v.bytes.size();
    }
    fn(ref, lset, views);
  }
}

}  // namespace strata::tsdb
