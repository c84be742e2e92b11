// A fault-injecting base::FileSystem for crash-safety tests (STYLE.md section 8).
//
// FaultFileSystem forwards every call to a real FileSystem and can
//   - fail the Nth WritableFile::Append from now, after writing only a prefix of its data
//     (a torn write), or the Nth Sync;
//   - simulate a crash (power loss): every file written through it is cut back to the
//     size it had at its last successful Sync, and every handle opened before the crash
//     fails from then on, so an owner's destructor cannot "finish" writing after the crash.
//
// Model and its limits: data reaches the real file at once (so readers see it, as with the
// OS page cache) but survives SimulateCrash() only if synced. A file's content when it was
// opened counts as durable. Truncate() is treated as durable immediately. Directory entries
// (create, rename, remove) are treated as durable immediately: the model covers lost file
// data, not lost directory updates. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "strata/base/file_system.h"

namespace strata::testing {

class FaultFileSystem final : public base::FileSystem {
 public:
  // `target` must outlive this object.
  explicit FaultFileSystem(base::FileSystem* target) : target_(target) {}

  // The `n`th Append (1-based, counted from this call) writes only the first
  // `partial_bytes` of its data and then returns Unavailable. n <= 0 disarms.
  void FailNthAppend(int n, size_t partial_bytes = 0);
  // The `n`th Sync (1-based, counted from this call) returns Unavailable without syncing.
  void FailNthSync(int n);
  // Cuts every tracked file back to its synced size and kills every open handle.
  // Returns the first error of the underlying truncations.
  absl::Status SimulateCrash();

  // Appends and syncs seen so far (successful or not).
  int appends() const;
  int syncs() const;

  absl::StatusOr<std::unique_ptr<base::WritableFile>> OpenAppendable(
      const std::string& path) override;
  absl::StatusOr<std::unique_ptr<base::WritableFile>> OpenWritable(
      const std::string& path) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    return target_->ReadFile(path);
  }
  absl::StatusOr<std::string> ReadRange(const std::string& path, uint64_t offset,
                                        size_t n) override {
    return target_->ReadRange(path, offset, n);
  }
  absl::StatusOr<std::unique_ptr<base::MappedFile>> MapReadOnly(const std::string& path) override {
    return target_->MapReadOnly(path);
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    return target_->ListDir(path);
  }
  absl::Status CreateDir(const std::string& path) override { return target_->CreateDir(path); }
  absl::Status CreateDirs(const std::string& path) override { return target_->CreateDirs(path); }
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status RemoveAll(const std::string& path) override;
  absl::Status Truncate(const std::string& path, uint64_t size) override;
  absl::Status SyncDir(const std::string& path) override { return target_->SyncDir(path); }
  absl::StatusOr<bool> Exists(const std::string& path) override { return target_->Exists(path); }
  absl::StatusOr<bool> IsDirectory(const std::string& path) override {
    return target_->IsDirectory(path);
  }
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    return target_->FileSize(path);
  }
  absl::StatusOr<std::unique_ptr<base::FileLock>> LockFile(const std::string& path) override {
    return target_->LockFile(path);
  }

 private:
  class File;
  friend class File;

  absl::StatusOr<std::unique_ptr<base::WritableFile>> Wrap(
      absl::StatusOr<std::unique_ptr<base::WritableFile>> f, bool truncated);
  // Called by File; return the injected error, if any, for this operation.
  bool TakeAppendFault(size_t* partial);
  bool TakeSyncFault();
  void MarkSynced(const std::string& path, uint64_t size);
  bool Alive(uint64_t generation) const;

  base::FileSystem* const target_;
  mutable absl::Mutex mu_;
  // Durable size of every file written through this object, by path.
  std::map<std::string, uint64_t> synced_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by SimulateCrash
  int appends_ ABSL_GUARDED_BY(mu_) = 0;
  int syncs_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_append_at_ ABSL_GUARDED_BY(mu_) = 0;  // absolute append count to fail; 0 = none
  size_t fail_append_partial_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_sync_at_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace strata::testing
