// Checks the layering of STYLE.md section 1: a module includes only the modules its row
// lists, and public headers include only std, Abseil and strata/.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::set<std::string>>& Allowed() {
  static const auto* m = new std::map<std::string, std::set<std::string>>{
      {"base", {}},
      {"model", {"base"}},
      {"chunkenc", {"base", "model"}},
      {"index", {"base", "model"}},
      {"storage", {"base", "model", "chunkenc"}},
      {"tsdb", {"base", "model", "chunkenc", "index", "storage"}},
      {"objstore", {"base"}},
      {"thanos", {"base", "model", "chunkenc", "index", "storage", "tsdb", "objstore"}},
      {"promql", {"base", "model", "storage"}},
      {"rules", {"promql", "storage", "model", "base"}},
  };
  return *m;
}

fs::path SourceDir() {
  const char* s = std::getenv("STRATA_SOURCE_DIR");
  return s != nullptr ? fs::path(s) : fs::path(".");
}

// The module a file belongs to: include/strata/<m>/... or lib/<m>/...
std::string ModuleOf(const fs::path& rel) {
  auto it = rel.begin();
  if (*it == "include") {
    ++it;  // strata
    ++it;
  } else {
    ++it;
  }
  return it == rel.end() ? "" : it->string();
}

TEST(LayeringTest, ModulesIncludeOnlyLowerLayers) {
  const fs::path root = SourceDir();
  ASSERT_TRUE(fs::exists(root / "lib")) << "STRATA_SOURCE_DIR not set to the source tree";
  // Both "strata/<m>/x.h" (public) and "<m>/x.h" (internal, from lib/) name module <m>.
  const std::regex inc_re(R"re(^\s*#\s*include\s*"(?:strata/)?([a-z_]+)/)re");
  int files = 0;
  for (const char* top : {"include/strata", "lib"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = e.path().extension().string();
      if (ext != ".h" && ext != ".cc") continue;
      const fs::path rel = fs::relative(e.path(), root);
      const std::string mod = ModuleOf(rel);
      auto allowed = Allowed().find(mod);
      ASSERT_NE(allowed, Allowed().end()) << rel << ": module '" << mod
                                          << "' is not in STYLE.md's layering table";
      ++files;
      std::ifstream in(e.path());
      std::string line;
      int lineno = 0;
      while (std::getline(in, line)) {
        ++lineno;
        std::smatch m;
        if (!std::regex_search(line, m, inc_re)) continue;
        const std::string dep = m[1];
        if (dep == mod || Allowed().count(dep) == 0) continue;  // self, or absl/re2/...
        EXPECT_TRUE(allowed->second.count(dep) > 0)
            << rel.string() << ":" << lineno << ": module " << mod << " includes " << dep;
      }
    }
  }
  EXPECT_GT(files, 10);
}

TEST(LayeringTest, PublicHeadersIncludeOnlyStdAbseilAndStrata) {
  const fs::path root = SourceDir();
  const std::regex quoted(R"re(^\s*#\s*include\s*"([^"]+)")re");
  for (const auto& e : fs::recursive_directory_iterator(root / "include")) {
    if (e.path().extension() != ".h") continue;
    std::ifstream in(e.path());
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      std::smatch m;
      if (!std::regex_search(line, m, quoted)) continue;
      const std::string h = m[1];
      EXPECT_TRUE(h.rfind("strata/", 0) == 0 || h.rfind("absl/", 0) == 0)
          << fs::relative(e.path(), root).string() << ":" << lineno << " includes " << h;
    }
  }
}

}  // namespace
