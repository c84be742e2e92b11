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
// Thread-safety: that is its purpose. Not recursive.
#pragma once

#include <atomic>
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

}  // namespace strata::tsdb
