// DB::Snapshot against Prometheus 2.42's DB.Snapshot (tsdb/db.go) and Block.Snapshot
// (tsdb/block.go): blocks hard-linked, the head written as a block, the snapshot opened as a
// DB holding every sample.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "strata/tsdb/db.h"
#include "testing/fault_fs.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tsdb/db_testing.h"

namespace strata::tsdb {
namespace {

using dbtest::AppendRange;
using dbtest::Eq;
using dbtest::QueryAll;
using dbtest::ReadFile;
using dbtest::SameSamples;
using dbtest::Series;
using dbtest::SeriesMap;

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;

struct stat Stat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

// A DB with one block [0, 2h) and the head holding [2h, 5h), with deletions in both.
struct Fixture {
  explicit Fixture(const std::string& dir, base::FileSystem* fs = nullptr) {
    DBOptions opts;
    opts.fs = fs;
    auto d = DB::Open(dir, dbtest::Manual(opts));
    EXPECT_TRUE(d.ok()) << d.status();
    db = *std::move(d);
    want = AppendRange(*db, 3, 0, 5 * kHour, kMinute);
    EXPECT_TRUE(db->Compact().ok());
    EXPECT_EQ(db->Blocks().size(), 1u);
    // [1h, 3h] of series 1: block tombstones and a head tombstone.
    EXPECT_TRUE(db->Delete(1 * kHour, 3 * kHour, {Eq("i", "1")}).ok());
    auto& v = want[Series(1).ToString()];
    std::erase_if(v, [](const model::Sample& s) { return s.t >= 1 * kHour && s.t <= 3 * kHour; });
  }
  std::unique_ptr<DB> db;
  SeriesMap want;
};

TEST(DBSnapshotTest, SnapshotWithHeadOpensAsDBWithEverySample) {
  testing::TempDir tmp;
  Fixture f(tmp.Sub("data"));
  ASSERT_TRUE(SameSamples(QueryAll(*f.db), f.want));
  const std::string snap = tmp.Sub("snap");
  STRATA_ASSERT_OK(f.db->Snapshot(snap, /*with_head=*/true));

  // The block is hard-linked file by file, tombstones included.
  const auto& b = *f.db->Blocks()[0];
  const std::string sb = snap + "/" + b.meta().ulid.ToString();
  for (const char* name : {"meta.json", "index", "tombstones", "chunks/000001"}) {
    const struct stat a = Stat(b.dir() + "/" + name);
    const struct stat c = Stat(sb + "/" + name);
    EXPECT_EQ(a.st_ino, c.st_ino) << name;
    EXPECT_GE(c.st_nlink, 2u) << name;
  }
  // The head became a level-1 block [head min, head max + 1) beside it.
  std::vector<std::string> others;
  for (const auto& e : std::filesystem::directory_iterator(snap)) {
    if (e.path().filename() != b.meta().ulid.ToString()) others.push_back(e.path());
  }
  ASSERT_EQ(others.size(), 1u);
  const std::string meta = ReadFile(others[0] + "/meta.json");
  EXPECT_THAT(meta, HasSubstr("\"minTime\": 7200000,"));
  EXPECT_THAT(meta, HasSubstr("\"maxTime\": 17940001,"));  // 5h - 1min + 1
  EXPECT_THAT(meta, HasSubstr("\"level\": 1,"));

  // The live head was not truncated and keeps taking samples.
  EXPECT_EQ(f.db->head().MinTime(), 2 * kHour);
  SeriesMap more = AppendRange(*f.db, 3, 5 * kHour, 5 * kHour + 2 * kMinute, kMinute);
  EXPECT_EQ(QueryAll(*f.db)[Series(0).ToString()].size(), 302u);

  // Opened as a DB (read-only, as promtool would), the snapshot holds every sample as of
  // the snapshot, without the deleted ones.
  DBOptions ro;
  ro.read_only = true;
  STRATA_ASSERT_OK_AND_ASSIGN(auto sdb, DB::Open(snap, dbtest::Manual(ro)));
  EXPECT_EQ(sdb->Blocks().size(), 2u);
  EXPECT_TRUE(SameSamples(QueryAll(*sdb), f.want));
}

TEST(DBSnapshotTest, SnapshotWithoutHeadHasOnlyTheBlocks) {
  testing::TempDir tmp;
  Fixture f(tmp.Sub("data"));
  const std::string snap = tmp.Sub("snap");
  STRATA_ASSERT_OK(f.db->Snapshot(snap, /*with_head=*/false));
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(snap))
    names.push_back(e.path().filename());
  EXPECT_THAT(names, ElementsAre(f.db->Blocks()[0]->meta().ulid.ToString()));
  DBOptions ro;
  ro.read_only = true;
  STRATA_ASSERT_OK_AND_ASSIGN(auto sdb, DB::Open(snap, dbtest::Manual(ro)));
  SeriesMap want = f.want;
  for (auto& [k, v] : want)
    std::erase_if(v, [](const model::Sample& s) { return s.t >= 2 * kHour; });
  EXPECT_TRUE(SameSamples(QueryAll(*sdb), want));
}

TEST(DBSnapshotTest, CopiesWhenTheFileSystemCannotLink) {
  // The fault-injecting file system forwards no Link(), like a snapshot onto another device.
  testing::TempDir tmp;
  testing::FaultFileSystem fs(base::DefaultFileSystem());
  Fixture f(tmp.Sub("data"), &fs);
  const std::string snap = tmp.Sub("snap");
  STRATA_ASSERT_OK(f.db->Snapshot(snap, /*with_head=*/true));
  const auto& b = *f.db->Blocks()[0];
  const std::string sb = snap + "/" + b.meta().ulid.ToString();
  for (const char* name : {"meta.json", "index", "tombstones", "chunks/000001"}) {
    EXPECT_NE(Stat(b.dir() + "/" + name).st_ino, Stat(sb + "/" + name).st_ino) << name;
    EXPECT_EQ(ReadFile(b.dir() + "/" + name), ReadFile(sb + "/" + name)) << name;
  }
  DBOptions ro;
  ro.read_only = true;
  STRATA_ASSERT_OK_AND_ASSIGN(auto sdb, DB::Open(snap, dbtest::Manual(ro)));
  EXPECT_TRUE(SameSamples(QueryAll(*sdb), f.want));
}

TEST(DBSnapshotTest, RefusesTheBaseDirectoryAndUlidNames) {
  testing::TempDir tmp;
  STRATA_ASSERT_OK_AND_ASSIGN(auto db, DB::Open(tmp.Sub("data"), dbtest::Manual()));
  EXPECT_THAT(db->Snapshot(tmp.Sub("data"), true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("base directory")));
  EXPECT_THAT(db->Snapshot("01BKGV7JBM69T2G1BGBGM6KB12", true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ULID")));
  // An empty DB snapshots to an empty directory (no head block without samples).
  STRATA_ASSERT_OK(db->Snapshot(tmp.Sub("empty"), true));
  EXPECT_TRUE(std::filesystem::is_empty(tmp.Sub("empty")));
  STRATA_ASSERT_OK(db->Close());
  EXPECT_THAT(db->Snapshot(tmp.Sub("after"), true),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

}  // namespace
}  // namespace strata::tsdb
