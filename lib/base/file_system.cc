#include "strata/base/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "strata/base/status.h"

namespace strata::base {

absl::Status ErrnoStatus(int err, std::string_view op, std::string_view path) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat(ToAbsl(op), " ", ToAbsl(path), ": ", std::strerror(err)));
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string out(dir);
  if (out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

std::string DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

namespace {

// Retries a system call interrupted by a signal.
template <typename F>
auto NoIntr(F f) {
  decltype(f()) r;
  do {
    r = f();
  } while (r < 0 && errno == EINTR);
  return r;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override { (void)Close(); }

  absl::Status Append(std::string_view data) override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("append ", path_, ": closed"));
    while (!data.empty()) {
      const ssize_t n = NoIntr([&] { return ::write(fd_, data.data(), data.size()); });
      if (n < 0) return ErrnoStatus(errno, "write", path_);
      data.remove_prefix(static_cast<size_t>(n));
      size_ += static_cast<uint64_t>(n);
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("sync ", path_, ": closed"));
    if (NoIntr([&] { return ::fdatasync(fd_); }) < 0) return ErrnoStatus(errno, "fdatasync", path_);
    return absl::OkStatus();
  }
  absl::Status Close() override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("close ", path_, ": closed"));
    const int fd = std::exchange(fd_, -1);
    // close() is not retried on EINTR: on Linux the descriptor is released regardless.
    if (::close(fd) < 0) return ErrnoStatus(errno, "close", path_);
    return absl::OkStatus();
  }
  uint64_t Size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixMappedFile final : public MappedFile {
 public:
  PosixMappedFile(void* addr, size_t size) : addr_(addr), size_(size) {}
  ~PosixMappedFile() override {
    if (addr_ != nullptr) ::munmap(addr_, size_);
  }
  std::string_view data() const override {
    return size_ == 0 ? std::string_view() : std::string_view(static_cast<char*>(addr_), size_);
  }

 private:
  void* addr_;
  size_t size_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

// Closes a descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

class PosixFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override {
    return Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, "open for append");
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path) override {
    return Open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, "open for write");
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    const int fd = NoIntr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    FdCloser closer{fd};
    std::string out;
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = NoIntr([&] { return ::read(fd, buf, sizeof(buf)); });
      if (n < 0) return ErrnoStatus(errno, "read", path);
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  absl::StatusOr<std::string> ReadRange(const std::string& path, uint64_t offset,
                                        size_t n) override {
    const int fd = NoIntr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    FdCloser closer{fd};
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      const ssize_t r = NoIntr([&] {
        return ::pread(fd, out.data() + got, n - got, static_cast<off_t>(offset + got));
      });
      if (r < 0) return ErrnoStatus(errno, "read", path);
      if (r == 0) {
        return absl::DataLossError(absl::StrCat("read ", path, ": file ends at ", offset + got,
                                                ", before offset ", offset, " + ", n));
      }
      got += static_cast<size_t>(r);
    }
    return out;
  }

  absl::StatusOr<std::unique_ptr<MappedFile>> MapReadOnly(const std::string& path) override {
    const int fd = NoIntr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
    if (fd < 0) return ErrnoStatus(errno, "open", path);
    FdCloser closer{fd};
    struct stat st;
    if (::fstat(fd, &st) < 0) return ErrnoStatus(errno, "stat", path);
    const auto size = static_cast<size_t>(st.st_size);
    if (size == 0) return std::make_unique<PosixMappedFile>(nullptr, 0);
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) return ErrnoStatus(errno, "mmap", path);
    return std::make_unique<PosixMappedFile>(addr, size);
  }

  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return ErrnoStatus(errno, "list directory", path);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      const std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return ErrnoStatus(err, "list directory", path);
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0777) == 0) return absl::OkStatus();
    const int err = errno;
    if (err == EEXIST) {
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return absl::OkStatus();
    }
    return ErrnoStatus(err, "create directory", path);
  }

  absl::Status CreateDirs(const std::string& path) override {
    if (path.empty()) return absl::InvalidArgumentError("create directory: empty path");
    // Walk down from the root creating each missing component.
    for (size_t pos = 1; pos <= path.size(); ++pos) {
      if (pos == path.size() || path[pos] == '/') {
        const std::string prefix = path.substr(0, pos);
        if (prefix.empty() || prefix.back() == '/') continue;
        absl::Status s = CreateDir(prefix);
        if (!s.ok()) return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) < 0) {
      return ErrnoStatus(errno, "rename", absl::StrCat(from, " -> ", to));
    }
    return absl::OkStatus();
  }

  absl::Status Link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) < 0) {
      return ErrnoStatus(errno, "link", absl::StrCat(from, " -> ", to));
    }
    return absl::OkStatus();
  }
  absl::Status Remove(const std::string& path) override {
    if (::remove(path.c_str()) < 0) return ErrnoStatus(errno, "remove", path);
    return absl::OkStatus();
  }

  absl::Status RemoveAll(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) < 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return ErrnoStatus(errno, "stat", path);
    }
    if (S_ISDIR(st.st_mode)) {
      auto names = ListDir(path);
      if (!names.ok()) return names.status();
      for (const std::string& n : *names) {
        absl::Status s = RemoveAll(JoinPath(path, n));
        if (!s.ok()) return s;
      }
    }
    if (::remove(path.c_str()) < 0 && errno != ENOENT) return ErrnoStatus(errno, "remove", path);
    return absl::OkStatus();
  }

  absl::Status Truncate(const std::string& path, uint64_t size) override {
    if (NoIntr([&] { return ::truncate(path.c_str(), static_cast<off_t>(size)); }) < 0) {
      return ErrnoStatus(errno, "truncate", path);
    }
    return absl::OkStatus();
  }

  absl::Status SyncDir(const std::string& path) override {
    const int fd =
        NoIntr([&] { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) return ErrnoStatus(errno, "open directory", path);
    FdCloser closer{fd};
    if (NoIntr([&] { return ::fsync(fd); }) < 0) return ErrnoStatus(errno, "fsync directory", path);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    return ErrnoStatus(errno, "stat", path);
  }

  absl::StatusOr<bool> IsDirectory(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) return ErrnoStatus(errno, "stat", path);
    return S_ISDIR(st.st_mode);
  }

  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) return ErrnoStatus(errno, "stat", path);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    const int fd =
        NoIntr([&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666); });
    if (fd < 0) return ErrnoStatus(errno, "open lock file", path);
    if (NoIntr([&] { return ::flock(fd, LOCK_EX | LOCK_NB); }) < 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(
            absl::StrCat("lock ", path, ": held by another process or handle"));
      }
      return ErrnoStatus(err, "lock", path);
    }
    return std::make_unique<PosixFileLock>(fd);
  }

 private:
  absl::StatusOr<std::unique_ptr<WritableFile>> Open(const std::string& path, int flags,
                                                      std::string_view op) {
    const int fd = NoIntr([&] { return ::open(path.c_str(), flags, 0666); });
    if (fd < 0) return ErrnoStatus(errno, op, path);
    struct stat st;
    if (::fstat(fd, &st) < 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "stat", path);
    }
    return std::make_unique<PosixWritableFile>(path, fd, static_cast<uint64_t>(st.st_size));
  }
};

}  // namespace

FileSystem* DefaultFileSystem() {
  static PosixFileSystem fs;  // stateless, so its destruction at exit is harmless
  return &fs;
}

absl::Status WriteFileAtomically(FileSystem& fs, const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  absl::Status s = [&]() -> absl::Status {
    auto f = fs.OpenWritable(tmp);
    if (!f.ok()) return f.status();
    absl::Status st = (*f)->Append(data);
    if (st.ok()) st = (*f)->Sync();
    absl::Status closed = (*f)->Close();
    if (!st.ok()) return st;
    if (!closed.ok()) return closed;
    st = fs.Rename(tmp, path);
    if (!st.ok()) return st;
    return fs.SyncDir(DirName(path));
  }();
  if (!s.ok()) (void)fs.RemoveAll(tmp);
  return s;
}

}  // namespace strata::base
