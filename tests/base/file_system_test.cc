#include "strata/base/file_system.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "testing/fault_fs.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace strata::base {
namespace {

using ::strata::testing::FaultFileSystem;
using ::strata::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(FileSystemTest, AppendSyncReadBack) {
  TempDir tmp;
  FileSystem* fs = DefaultFileSystem();
  const std::string path = tmp.Sub("f");
  {
    STRATA_ASSERT_OK_AND_ASSIGN(auto f, fs->OpenAppendable(path));
    STRATA_ASSERT_OK(f->Append("hello "));
    STRATA_ASSERT_OK(f->Append("world"));
    EXPECT_EQ(f->Size(), 11u);
    STRATA_ASSERT_OK(f->Sync());
    STRATA_ASSERT_OK(f->Close());
    EXPECT_THAT(f->Append("x"), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(path)));
  }
  {
    // Reopening for append continues at the end and reports the existing size.
    STRATA_ASSERT_OK_AND_ASSIGN(auto f, fs->OpenAppendable(path));
    EXPECT_EQ(f->Size(), 11u);
    STRATA_ASSERT_OK(f->Append("!"));
  }
  STRATA_ASSERT_OK_AND_ASSIGN(std::string all, fs->ReadFile(path));
  EXPECT_EQ(all, "hello world!");
  STRATA_ASSERT_OK_AND_ASSIGN(std::string part, fs->ReadRange(path, 6, 5));
  EXPECT_EQ(part, "world");
  EXPECT_THAT(fs->ReadRange(path, 10, 5),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("file ends at 12")));
  STRATA_ASSERT_OK_AND_ASSIGN(auto m, fs->MapReadOnly(path));
  EXPECT_EQ(m->data(), "hello world!");
  STRATA_ASSERT_OK_AND_ASSIGN(uint64_t size, fs->FileSize(path));
  EXPECT_EQ(size, 12u);
  STRATA_ASSERT_OK(fs->Truncate(path, 5));
  STRATA_ASSERT_OK_AND_ASSIGN(all, fs->ReadFile(path));
  EXPECT_EQ(all, "hello");
  // OpenWritable truncates.
  STRATA_ASSERT_OK_AND_ASSIGN(auto w, fs->OpenWritable(path));
  EXPECT_EQ(w->Size(), 0u);
}

TEST(FileSystemTest, ErrorsNamePathAndErrno) {
  TempDir tmp;
  FileSystem* fs = DefaultFileSystem();
  const std::string missing = tmp.Sub("missing");
  EXPECT_THAT(fs->ReadFile(missing),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("open " + missing + ": No such file or directory")));
  EXPECT_THAT(fs->Remove(missing), StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
  EXPECT_THAT(fs->ListDir(missing), StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
  EXPECT_THAT(fs->MapReadOnly(missing), StatusIs(absl::StatusCode::kNotFound, HasSubstr(missing)));
  STRATA_ASSERT_OK_AND_ASSIGN(bool exists, fs->Exists(missing));
  EXPECT_FALSE(exists);
}

TEST(FileSystemTest, DirectoriesRenameRemoveAll) {
  TempDir tmp;
  FileSystem* fs = DefaultFileSystem();
  const std::string deep = tmp.Sub("a/b/c");
  STRATA_ASSERT_OK(fs->CreateDirs(deep));
  STRATA_ASSERT_OK(fs->CreateDirs(deep));  // idempotent
  STRATA_ASSERT_OK(fs->CreateDir(deep));
  STRATA_ASSERT_OK(WriteFileAtomically(*fs, deep + "/x", "1"));
  STRATA_ASSERT_OK(WriteFileAtomically(*fs, deep + "/y", "2"));
  STRATA_ASSERT_OK_AND_ASSIGN(auto names, fs->ListDir(deep));
  EXPECT_THAT(names, ElementsAre("x", "y"));  // no .tmp left behind
  STRATA_ASSERT_OK(WriteFileAtomically(*fs, deep + "/x", "replaced"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string x, fs->ReadFile(deep + "/x"));
  EXPECT_EQ(x, "replaced");
  STRATA_ASSERT_OK(fs->Rename(tmp.Sub("a/b"), tmp.Sub("z")));
  STRATA_ASSERT_OK_AND_ASSIGN(bool is_dir, fs->IsDirectory(tmp.Sub("z/c")));
  EXPECT_TRUE(is_dir);
  STRATA_ASSERT_OK(fs->SyncDir(tmp.path()));
  STRATA_ASSERT_OK(fs->RemoveAll(tmp.Sub("z")));
  STRATA_ASSERT_OK(fs->RemoveAll(tmp.Sub("z")));  // OK when missing
  STRATA_ASSERT_OK_AND_ASSIGN(names, fs->ListDir(tmp.path()));
  EXPECT_THAT(names, ElementsAre("a"));
}

TEST(FileSystemTest, LockFileIsExclusive) {
  TempDir tmp;
  FileSystem* fs = DefaultFileSystem();
  const std::string path = tmp.Sub("lock");
  STRATA_ASSERT_OK_AND_ASSIGN(auto lock, fs->LockFile(path));
  EXPECT_THAT(fs->LockFile(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(path)));
  lock.reset();
  STRATA_ASSERT_OK(fs->LockFile(path));
}

TEST(FaultFileSystemTest, CrashDropsOnlyUnsyncedBytes) {
  TempDir tmp;
  FaultFileSystem fs(DefaultFileSystem());
  const std::string path = tmp.Sub("f");
  STRATA_ASSERT_OK_AND_ASSIGN(auto f, fs.OpenAppendable(path));
  STRATA_ASSERT_OK(f->Append("durable"));
  STRATA_ASSERT_OK(f->Sync());
  STRATA_ASSERT_OK(f->Append("-lost"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string before, fs.ReadFile(path));
  EXPECT_EQ(before, "durable-lost");  // visible before the crash, like the page cache
  STRATA_ASSERT_OK(fs.SimulateCrash());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string after, fs.ReadFile(path));
  EXPECT_EQ(after, "durable");
  // Handles from before the crash are dead.
  EXPECT_THAT(f->Append("x"), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("crash")));
}

TEST(FaultFileSystemTest, RenameCarriesSyncedState) {
  TempDir tmp;
  FaultFileSystem fs(DefaultFileSystem());
  STRATA_ASSERT_OK(WriteFileAtomically(fs, tmp.Sub("meta"), "v1"));
  STRATA_ASSERT_OK(fs.SimulateCrash());
  STRATA_ASSERT_OK_AND_ASSIGN(std::string got, fs.ReadFile(tmp.Sub("meta")));
  EXPECT_EQ(got, "v1");
}

TEST(FaultFileSystemTest, FailsNthAppendAfterPartialWriteAndNthSync) {
  TempDir tmp;
  FaultFileSystem fs(DefaultFileSystem());
  const std::string path = tmp.Sub("f");
  STRATA_ASSERT_OK_AND_ASSIGN(auto f, fs.OpenAppendable(path));
  fs.FailNthAppend(2, /*partial_bytes=*/3);
  STRATA_ASSERT_OK(f->Append("one"));
  EXPECT_THAT(f->Append("twotwo"), StatusIs(absl::StatusCode::kUnavailable, HasSubstr(path)));
  STRATA_ASSERT_OK(f->Append("three"));
  STRATA_ASSERT_OK_AND_ASSIGN(std::string got, fs.ReadFile(path));
  EXPECT_EQ(got, "onetwothree");
  fs.FailNthSync(1);
  EXPECT_THAT(f->Sync(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
  STRATA_ASSERT_OK(f->Sync());
  EXPECT_EQ(fs.appends(), 3);
  EXPECT_EQ(fs.syncs(), 2);
}

}  // namespace
}  // namespace strata::base
