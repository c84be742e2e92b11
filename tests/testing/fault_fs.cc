#include "testing/fault_fs.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "strata/base/status.h"

namespace strata::testing {

class FaultFileSystem::File final : public base::WritableFile {
 public:
  File(FaultFileSystem* fs, std::unique_ptr<base::WritableFile> f, uint64_t generation)
      : fs_(fs), f_(std::move(f)), generation_(generation) {}

  absl::Status Append(std::string_view data) override {
    if (!fs_->Alive(generation_)) return Dead("append");
    size_t partial = 0;
    if (fs_->TakeAppendFault(&partial)) {
      (void)f_->Append(data.substr(0, std::min(partial, data.size())));
      return absl::UnavailableError(absl::StrCat("write ", path(), ": injected fault"));
    }
    return f_->Append(data);
  }
  absl::Status Sync() override {
    if (!fs_->Alive(generation_)) return Dead("sync");
    if (fs_->TakeSyncFault()) {
      return absl::UnavailableError(absl::StrCat("fdatasync ", path(), ": injected fault"));
    }
    absl::Status s = f_->Sync();
    if (s.ok()) fs_->MarkSynced(path(), f_->Size());
    return s;
  }
  absl::Status Close() override {
    if (!fs_->Alive(generation_)) {
      (void)f_->Close();
      return Dead("close");
    }
    return f_->Close();
  }
  uint64_t Size() const override { return f_->Size(); }
  const std::string& path() const override { return f_->path(); }

 private:
  absl::Status Dead(std::string_view op) const {
    return absl::UnavailableError(
        absl::StrCat(base::ToAbsl(op), " ", path(), ": handle opened before a simulated crash"));
  }
  FaultFileSystem* fs_;
  std::unique_ptr<base::WritableFile> f_;
  uint64_t generation_;
};

void FaultFileSystem::FailNthAppend(int n, size_t partial_bytes) {
  absl::MutexLock l(&mu_);
  fail_append_at_ = n > 0 ? appends_ + n : 0;
  fail_append_partial_ = partial_bytes;
}

void FaultFileSystem::FailNthSync(int n) {
  absl::MutexLock l(&mu_);
  fail_sync_at_ = n > 0 ? syncs_ + n : 0;
}

int FaultFileSystem::appends() const {
  absl::MutexLock l(&mu_);
  return appends_;
}
int FaultFileSystem::syncs() const {
  absl::MutexLock l(&mu_);
  return syncs_;
}

bool FaultFileSystem::TakeAppendFault(size_t* partial) {
  absl::MutexLock l(&mu_);
  ++appends_;
  if (fail_append_at_ != 0 && appends_ == fail_append_at_) {
    fail_append_at_ = 0;
    *partial = fail_append_partial_;
    return true;
  }
  return false;
}

bool FaultFileSystem::TakeSyncFault() {
  absl::MutexLock l(&mu_);
  ++syncs_;
  if (fail_sync_at_ != 0 && syncs_ == fail_sync_at_) {
    fail_sync_at_ = 0;
    return true;
  }
  return false;
}

void FaultFileSystem::MarkSynced(const std::string& path, uint64_t size) {
  absl::MutexLock l(&mu_);
  synced_[path] = size;
}

bool FaultFileSystem::Alive(uint64_t generation) const {
  absl::MutexLock l(&mu_);
  return generation == generation_;
}

absl::StatusOr<std::unique_ptr<base::WritableFile>> FaultFileSystem::Wrap(
    absl::StatusOr<std::unique_ptr<base::WritableFile>> f, bool truncated) {
  if (!f.ok()) return f.status();
  absl::MutexLock l(&mu_);
  auto it = synced_.find((*f)->path());
  if (truncated || it == synced_.end()) synced_[(*f)->path()] = (*f)->Size();
  return std::unique_ptr<base::WritableFile>(
      std::make_unique<File>(this, std::move(*f), generation_));
}

absl::StatusOr<std::unique_ptr<base::WritableFile>> FaultFileSystem::OpenAppendable(
    const std::string& path) {
  return Wrap(target_->OpenAppendable(path), /*truncated=*/false);
}

absl::StatusOr<std::unique_ptr<base::WritableFile>> FaultFileSystem::OpenWritable(
    const std::string& path) {
  return Wrap(target_->OpenWritable(path), /*truncated=*/true);
}

absl::Status FaultFileSystem::Rename(const std::string& from, const std::string& to) {
  absl::Status s = target_->Rename(from, to);
  if (!s.ok()) return s;
  absl::MutexLock l(&mu_);
  // Renaming a directory moves the state of every tracked file below it.
  std::map<std::string, uint64_t> moved;
  for (auto it = synced_.begin(); it != synced_.end();) {
    if (it->first == to || it->first.rfind(to + "/", 0) == 0) {
      it = synced_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = synced_.begin(); it != synced_.end();) {
    if (it->first == from) {
      moved[to] = it->second;
      it = synced_.erase(it);
    } else if (it->first.rfind(from + "/", 0) == 0) {
      moved[to + it->first.substr(from.size())] = it->second;
      it = synced_.erase(it);
    } else {
      ++it;
    }
  }
  synced_.merge(moved);
  return absl::OkStatus();
}

absl::Status FaultFileSystem::Remove(const std::string& path) {
  absl::Status s = target_->Remove(path);
  if (!s.ok()) return s;
  absl::MutexLock l(&mu_);
  synced_.erase(path);
  return absl::OkStatus();
}

absl::Status FaultFileSystem::RemoveAll(const std::string& path) {
  absl::Status s = target_->RemoveAll(path);
  if (!s.ok()) return s;
  absl::MutexLock l(&mu_);
  for (auto it = synced_.begin(); it != synced_.end();) {
    if (it->first == path || it->first.rfind(path + "/", 0) == 0) {
      it = synced_.erase(it);
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

absl::Status FaultFileSystem::Truncate(const std::string& path, uint64_t size) {
  absl::Status s = target_->Truncate(path, size);
  if (!s.ok()) return s;
  absl::MutexLock l(&mu_);
  auto it = synced_.find(path);
  if (it != synced_.end()) it->second = std::min(it->second, size);
  return absl::OkStatus();
}

absl::Status FaultFileSystem::SimulateCrash() {
  absl::MutexLock l(&mu_);
  ++generation_;
  absl::Status first;
  for (const auto& [path, size] : synced_) {
    auto cur = target_->FileSize(path);
    if (!cur.ok()) {
      if (cur.status().code() != absl::StatusCode::kNotFound && first.ok()) first = cur.status();
      continue;
    }
    if (*cur > size) {
      absl::Status s = target_->Truncate(path, size);
      if (!s.ok() && first.ok()) first = s;
    }
  }
  return first;
}

}  // namespace strata::testing
