// strata::base::Mutex: the mutex type of strata's classes, absl::Mutex except under
// ThreadSanitizer. Public because classes in public headers hold one; hosts need not use it.
//
// Debian's Abseil is not built with -fsanitize=thread, so its Mutex carries no TSan
// annotations and TSan reports every access it protects as a race. Under TSan these names
// therefore map to a std::shared_mutex wrapper (whose pthread calls TSan intercepts) with the
// same interface and the same thread-safety annotations; otherwise they are absl's types.
// The locking discipline checked is the same either way. The wrapper supports the subset of
// absl::Mutex strata uses: Lock/Unlock, reader locks, Await and AwaitWithTimeout on an
// absl::Condition (re-evaluated after every unlock, as absl does), and the scoped locks.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#if defined(__SANITIZE_THREAD__)
#define STRATA_TSAN_MUTEX 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRATA_TSAN_MUTEX 1
#endif
#endif

#ifdef STRATA_TSAN_MUTEX
#include <chrono>
#include <condition_variable>
#include <shared_mutex>

#include "absl/time/time.h"
#endif

namespace strata::base {

#ifndef STRATA_TSAN_MUTEX

using Mutex = absl::Mutex;
using MutexLock = absl::MutexLock;
using ReaderMutexLock = absl::ReaderMutexLock;
using ReleasableMutexLock = absl::ReleasableMutexLock;

#else

class ABSL_LOCKABLE Mutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { m_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    m_.unlock();
    cv_.notify_all();  // waiters re-evaluate their conditions, as absl's unlock does
  }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() { m_.lock_shared(); }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() {
    m_.unlock_shared();
    cv_.notify_all();
  }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}
  void AssertReaderHeld() const ABSL_ASSERT_SHARED_LOCK() {}
  // Requires: held exclusively. Returns with `cond` true, still held.
  void Await(const absl::Condition& cond) {
    Exclusive lk{&m_};
    while (!cond.Eval()) cv_.wait(lk);
  }
  // Requires: held exclusively. Returns whether `cond` is true, after at most `timeout`.
  bool AwaitWithTimeout(const absl::Condition& cond, absl::Duration timeout) {
    Exclusive lk{&m_};
    const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    while (!cond.Eval()) {
      if (cv_.wait_until(lk, deadline) == std::cv_status::timeout) return cond.Eval();
    }
    return true;
  }

 private:
  // The held lock as the BasicLockable condition_variable_any waits on.
  struct Exclusive {
    std::shared_mutex* m;
    void lock() { m->lock(); }
    void unlock() { m->unlock(); }
  };
  std::shared_mutex m_;
  std::condition_variable_any cv_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

class ABSL_SCOPED_LOCKABLE ReaderMutexLock {
 public:
  explicit ReaderMutexLock(Mutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ~ReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  Mutex* mu_;
};

class ABSL_SCOPED_LOCKABLE ReleasableMutexLock {
 public:
  explicit ReleasableMutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~ReleasableMutexLock() ABSL_UNLOCK_FUNCTION() {
    if (mu_ != nullptr) mu_->Unlock();
  }
  void Release() ABSL_UNLOCK_FUNCTION() {
    mu_->Unlock();
    mu_ = nullptr;
  }
  ReleasableMutexLock(const ReleasableMutexLock&) = delete;
  ReleasableMutexLock& operator=(const ReleasableMutexLock&) = delete;

 private:
  Mutex* mu_;
};

#endif

}  // namespace strata::base
