// A one-byte spin lock for per-series state in the head.
//
// Every head series needs a lock, and its critical sections are a handful of instructions
// (check a timestamp, append one sample to a chunk). absl::Mutex costs 8 bytes and, in
// Debian's Abseil (built without NDEBUG), registers every mutex with its deadlock detector
// on first nested use, which costs a graph node per series and dominated append profiles.
// This lock spins briefly and then yields, so a holder preempted on a busy machine does not
// burn the waiters' time slices. It is annotated for clang's thread-safety analysis and is
// visible to ThreadSanitizer through its atomics.
//
// SpinSharedMutex is the reader-writer form for the head's lock stripes, whose read side
// (a hash-map lookup per appended sample) is taken far more often than the write side
// (series creation and GC). absl::Mutex's reader lock, an out-of-line call in Debian's
// shared library, cost a fifth of the write benchmark's CPU; this is one atomic add to
// take and one to release.
//
// Thread-safety: that is their purpose. Not recursive.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"

namespace strata::tsdb {

class ABSL_LOCKABLE SpinMutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      int spins = 0;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins >= 64) {
          std::this_thread::yield();
          spins = 0;
        }
      }
    }
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

class ABSL_SCOPED_LOCKABLE SpinMutexLock {
 public:
  explicit SpinMutexLock(SpinMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~SpinMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  SpinMutexLock(const SpinMutexLock&) = delete;
  SpinMutexLock& operator=(const SpinMutexLock&) = delete;

 private:
  SpinMutex* mu_;
};

class ABSL_LOCKABLE SpinSharedMutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    uint32_t expect = 0;
    int spins = 0;
    while (!state_.compare_exchange_weak(expect, kWriter, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
      expect = 0;
      Pause(&spins);
    }
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    state_.fetch_and(~kWriter, std::memory_order_release);
  }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() {
    int spins = 0;
    for (;;) {
      if ((state_.fetch_add(kReader, std::memory_order_acquire) & kWriter) == 0) return;
      state_.fetch_sub(kReader, std::memory_order_relaxed);
      while (state_.load(std::memory_order_relaxed) & kWriter) Pause(&spins);
    }
  }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() {
    state_.fetch_sub(kReader, std::memory_order_release);
  }

 private:
  static constexpr uint32_t kWriter = 1;
  static constexpr uint32_t kReader = 2;
  static void Pause(int* spins) {
    if (++*spins >= 64) {
      std::this_thread::yield();
      *spins = 0;
    }
  }
  std::atomic<uint32_t> state_{0};
};

class ABSL_SCOPED_LOCKABLE SpinWriterLock {
 public:
  explicit SpinWriterLock(SpinSharedMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~SpinWriterLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  SpinWriterLock(const SpinWriterLock&) = delete;
  SpinWriterLock& operator=(const SpinWriterLock&) = delete;

 private:
  SpinSharedMutex* mu_;
};

class ABSL_SCOPED_LOCKABLE SpinReaderLock {
 public:
  explicit SpinReaderLock(SpinSharedMutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ~SpinReaderLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  SpinReaderLock(const SpinReaderLock&) = delete;
  SpinReaderLock& operator=(const SpinReaderLock&) = delete;

 private:
  SpinSharedMutex* mu_;
};

}  // namespace strata::tsdb
