// Helpers shared by the block-format tests: scratch directories, file reading, the
// promtool worked-example fixture, and draining a storage::SeriesSet.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"
#include "strata/storage/series.h"

namespace strata::tsdb::block::testing {

// A fresh, empty directory under the test temp dir, removed by the destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::path(::testing::TempDir()) /
            (std::string("strata_block_") + info->test_suite_name() + "_" + info->name() + "_" +
             name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string operator/(const std::string& s) const { return (path_ / s).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void WriteFileOrDie(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string SourceDir() {
  const char* s = std::getenv("STRATA_SOURCE_DIR");
  return s != nullptr ? s : ".";
}

// The promtool 2.42 block of the format doc's worked example (testdata/promtool_example).
inline std::string ExampleBlockDir() {
  return SourceDir() + "/tests/tsdb/block/testdata/promtool_example/block";
}
inline constexpr char kExampleUlid[] = "01M7ZXSK4YD4ZHPGBH8G6X4W17";

// The worked example's series.
inline std::vector<std::pair<model::Labels, std::vector<model::Sample>>> ExampleSeries() {
  return {
      {model::Labels{{"__name__", "up"}, {"instance", "x"}, {"job", "a"}},
       {{0, 1}, {15000, 1}, {30000, 0}, {45000, 1}}},
      {model::Labels{{"__name__", "up"}, {"instance", "y"}, {"job", "b"}}, {{0, 2.5}}},
  };
}

struct SeriesSamples {
  model::Labels lset;
  std::vector<model::Sample> samples;
  friend bool operator==(const SeriesSamples&, const SeriesSamples&) = default;
};

// Drains `set`, expanding every series' samples. Fails the test on an iteration error.
inline std::vector<SeriesSamples> Drain(storage::SeriesSet& set) {
  std::vector<SeriesSamples> out;
  while (set.Next()) {
    SeriesSamples s{set.At().labels(), {}};
    auto it = set.At().Iterator();
    while (it->Next()) s.samples.push_back(it->At());
    EXPECT_TRUE(it->status().ok()) << it->status();
    out.push_back(std::move(s));
  }
  EXPECT_TRUE(set.status().ok()) << set.status();
  return out;
}

}  // namespace strata::tsdb::block::testing
