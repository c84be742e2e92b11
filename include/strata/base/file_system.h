// strata::base file-system seam.
//
// Every byte strata reads or writes goes through a FileSystem so that tests can inject
// faults (fail the Nth write, drop data that was never synced) and embedders can supply
// their own storage. DefaultFileSystem() is the POSIX implementation.
//
// Errors: every failing call returns an absl::Status whose code follows errno
// (ENOENT -> NotFound, EEXIST -> AlreadyExists, EACCES -> PermissionDenied, ENOSPC ->
// ResourceExhausted, ...; see absl::ErrnoToStatusCode) and whose message names the
// operation, the path and the errno text: "open /d/wal/00000003: No such file or directory".
//
// Durability model (what the fault-injecting file system in tests/testing/fault_fs.h
// simulates): data passed to WritableFile::Append is visible to readers at once but
// survives a crash only after WritableFile::Sync(); a created, renamed or removed directory
// entry survives only after SyncDir() of its parent. WriteFileAtomically() combines both.
//
// Thread-safety: FileSystem implementations are thread-safe. A WritableFile is not: one
// owner appends to it (the WAL writer guards its file with its own mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strata::base {

// A file opened for appending. Size() counts every byte appended so far (including the
// size the file had when it was opened), whether or not it has been synced.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of `data`. On error some prefix of `data` may have been written.
  virtual absl::Status Append(std::string_view data) = 0;
  // Makes every appended byte durable (fdatasync).
  virtual absl::Status Sync() = 0;
  // Closes the file without syncing. Further calls return FailedPrecondition. The
  // destructor closes a file its owner did not close and drops any error.
  virtual absl::Status Close() = 0;
  virtual uint64_t Size() const = 0;
  virtual const std::string& path() const = 0;
};

// A read-only view of a whole file. data() is valid while this object lives.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual std::string_view data() const = 0;
};

// An exclusive advisory lock (flock) held until this object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens `path` for appending, creating it if missing; new bytes go to its end.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenAppendable(
      const std::string& path) = 0;
  // Creates `path`, or truncates it to zero bytes if it exists, and opens it for writing.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path) = 0;

  // Returns the whole content of `path`.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // Returns `n` bytes of `path` starting at `offset`. Returns DataLoss naming path, offset
  // and the file size if the file ends before offset + n.
  virtual absl::StatusOr<std::string> ReadRange(const std::string& path, uint64_t offset,
                                                size_t n) = 0;
  // Maps `path` read-only (an empty file yields an empty view).
  virtual absl::StatusOr<std::unique_ptr<MappedFile>> MapReadOnly(const std::string& path) = 0;

  // Names of the entries of directory `path` (without "." and ".."), sorted bytewise.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& path) = 0;
  // Creates directory `path`; OK if it already exists as a directory.
  virtual absl::Status CreateDir(const std::string& path) = 0;
  // Creates `path` and every missing parent; OK if it already exists.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  // Atomically renames `from` to `to`, replacing a file (or empty directory) at `to`.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Removes a file or an empty directory. NotFound if it does not exist.
  virtual absl::Status Remove(const std::string& path) = 0;
  // Removes `path` and, for a directory, everything below it. OK if it does not exist.
  virtual absl::Status RemoveAll(const std::string& path) = 0;
  // Sets the size of file `path` to `size` bytes (dropping bytes or appending zeros).
  virtual absl::Status Truncate(const std::string& path, uint64_t size) = 0;
  // Makes the entries of directory `path` (creations, renames, removals) durable.
  virtual absl::Status SyncDir(const std::string& path) = 0;

  // True if `path` exists (file or directory). Errors other than ENOENT are returned.
  virtual absl::StatusOr<bool> Exists(const std::string& path) = 0;
  virtual absl::StatusOr<bool> IsDirectory(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;

  // Takes an exclusive flock on `path` (created if missing) without blocking. Returns
  // FailedPrecondition if another process or open handle holds it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // Creates `to` as a hard link to the existing file `from` (used by snapshots). The default
  // returns Unimplemented: callers fall back to copying, as for a link across file systems.
  virtual absl::Status Link(const std::string& from, const std::string& to) {
    return absl::UnimplementedError("link " + from + " -> " + to + ": not supported");
  }
};

// The POSIX file system. The object lives for the whole program.
FileSystem* DefaultFileSystem();

// Durably replaces `path` with `data`: writes `path`.tmp, syncs it, renames it over
// `path` and syncs the parent directory. On error the .tmp file is removed (best effort)
// and `path` keeps its old content.
absl::Status WriteFileAtomically(FileSystem& fs, const std::string& path, std::string_view data);

// Joins two path components with one '/'.
std::string JoinPath(std::string_view dir, std::string_view name);
// The directory part of `path` ("." if it has none).
std::string DirName(std::string_view path);

// Builds the status for a failed system call: code from `err` (an errno value), message
// "`op` `path`: strerror(err)".
absl::Status ErrnoStatus(int err, std::string_view op, std::string_view path);

}  // namespace strata::base
