// Parses every eval expression of the conformance corpus (/work/shared/conformance, found
// through STRATA_SHARED_DIR) and checks the printer's round trip on each:
// Parse(Print(Parse(q))) == Parse(q) and Print is a fixed point.
//
// promql/ holds Prometheus 3.x scripts and is parsed with the 3.x language (experimental
// functions, duration expressions, anchored/smoothed and fill modifiers all on, as the
// upstream test engine runs them); promql-v2.42.0/ is parsed with compat_2x.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/promql/parser/parser.h"
#include "strata/promql/parser/printer.h"

namespace strata::promql::parser {
namespace {

struct Eval {
  std::string file;
  int line = 0;
  std::string expr;
  bool expect_fail = false;
};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Splits off `n` whitespace-separated words and returns the rest, trimmed.
std::string AfterWords(const std::string& s, int n) {
  size_t i = 0;
  for (int k = 0; k < n; ++k) {
    i = s.find_first_not_of(" \t", i);
    if (i == std::string::npos) return "";
    i = s.find_first_of(" \t", i);
    if (i == std::string::npos) return "";
  }
  return Trim(s.substr(i));
}

// Mirrors the runner's block parsing (conformance/README.md "Lines and commands").
std::vector<Eval> ReadEvals(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::vector<Eval> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string t = Trim(lines[i]);
    if (t.rfind("eval", 0) != 0) continue;
    Eval e;
    e.file = file.filename().string();
    e.line = static_cast<int>(i + 1);
    const std::string cmd = t.substr(0, t.find_first_of(" \t"));
    e.expect_fail = cmd == "eval_fail";
    std::istringstream ws(t);
    std::string w0, w1;
    ws >> w0 >> w1;
    // eval instant at <t> <expr> | eval range from <s> to <e> step <st> <expr>
    e.expr = w1 == "instant" ? AfterWords(t, 4) : AfterWords(t, 8);
    for (size_t j = i + 1; j < lines.size(); ++j) {
      const std::string b = Trim(lines[j]);
      if (b.empty()) break;
      if (b.rfind("expect fail", 0) == 0) e.expect_fail = true;
    }
    out.push_back(std::move(e));
  }
  return out;
}

struct Counts {
  int evals = 0;
  int parsed = 0;
  int round_tripped = 0;
  int failed_as_expected = 0;
};

Counts RunDir(const std::filesystem::path& dir, const ParseOptions& opts) {
  Counts c;
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() == ".test") files.push_back(f.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    for (const Eval& e : ReadEvals(f)) {
      ++c.evals;
      SCOPED_TRACE(e.file + ":" + std::to_string(e.line) + ": " + e.expr);
      auto parsed = ParseExpr(e.expr, opts);
      if (!parsed.ok()) {
        if (e.expect_fail) {
          ++c.failed_as_expected;
        } else {
          ADD_FAILURE() << parsed.status();
        }
        continue;
      }
      ++c.parsed;
      const std::string printed = Print(**parsed);
      auto reparsed = ParseExpr(printed, opts);
      if (!reparsed.ok()) {
        ADD_FAILURE() << "printed form does not parse: " << printed << ": " << reparsed.status();
        continue;
      }
      EXPECT_TRUE(Equal(**parsed, **reparsed)) << "printed: " << printed;
      EXPECT_EQ(Print(**reparsed), printed);
      if (Equal(**parsed, **reparsed) && Print(**reparsed) == printed) ++c.round_tripped;
    }
  }
  return c;
}

std::filesystem::path SharedDir() {
  const char* d = std::getenv("STRATA_SHARED_DIR");
  return d == nullptr ? std::filesystem::path() : std::filesystem::path(d);
}

// Every series line of every `load` block, and every expected-series line of every eval,
// must parse as a series description (start-timestamp `@st` lines are the runner's).
int CheckSeriesLines(const std::filesystem::path& dir) {
  int n = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() != ".test") continue;
    std::ifstream in(f.path());
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    enum { kNone, kLoad, kEval } block = kNone;
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string t = Trim(lines[i]);
      if (t.empty() || t[0] == '#') {
        if (t.empty()) block = kNone;
        continue;
      }
      if (t.rfind("load", 0) == 0) {
        block = kLoad;
        continue;
      }
      if (t.rfind("eval", 0) == 0) {
        block = kEval;
        continue;
      }
      if (t.rfind("clear", 0) == 0) continue;
      if (block == kNone) continue;
      if (block == kEval && (t.rfind("expect", 0) == 0 || t.rfind("expected_fail", 0) == 0)) {
        continue;
      }
      const std::string first = t.substr(0, t.find_first_of(" \t"));
      if (first.find("@st") != std::string::npos) continue;
      if (block == kEval && t.find_first_of("{ \t") == std::string::npos) continue;  // scalar
      auto s = ParseSeriesDesc(t);
      EXPECT_TRUE(s.ok()) << f.path().filename().string() << ":" << i + 1 << ": " << t << ": "
                          << s.status();
      ++n;
    }
  }
  return n;
}

TEST(ConformanceRoundTripTest, EverySeriesLineParses) {
  if (SharedDir().empty() || !std::filesystem::exists(SharedDir() / "conformance")) {
    GTEST_SKIP() << "conformance corpus not found (STRATA_SHARED_DIR)";
  }
  const int n3 = CheckSeriesLines(SharedDir() / "conformance" / "promql");
  const int n2 = CheckSeriesLines(SharedDir() / "conformance" / "promql-v2.42.0");
  std::printf("series lines parsed: %d (promql/), %d (promql-v2.42.0/)\n", n3, n2);
  EXPECT_GT(n3, 1000);
  EXPECT_GT(n2, 300);
}


TEST(ConformanceRoundTripTest, EveryPromql3ExpressionParsesAndRoundTrips) {
  const auto dir = SharedDir() / "conformance" / "promql";
  if (SharedDir().empty() || !std::filesystem::exists(dir)) {
    GTEST_SKIP() << "conformance corpus not found (STRATA_SHARED_DIR)";
  }
  const Counts c = RunDir(dir, ParseOptions{});
  std::printf("promql/: %d evals, %d parsed, %d round-tripped, %d failed to parse as expected\n",
              c.evals, c.parsed, c.round_tripped, c.failed_as_expected);
  EXPECT_EQ(c.evals, 2214);  // conformance/README.md
  EXPECT_EQ(c.parsed, c.round_tripped);
}

TEST(ConformanceRoundTripTest, EveryPromql242ExpressionParsesAndRoundTripsIn2xMode) {
  const auto dir = SharedDir() / "conformance" / "promql-v2.42.0";
  if (SharedDir().empty() || !std::filesystem::exists(dir)) {
    GTEST_SKIP() << "conformance corpus not found (STRATA_SHARED_DIR)";
  }
  ParseOptions opts;
  opts.compat_2x = true;
  const Counts c = RunDir(dir, opts);
  std::printf("promql-v2.42.0/: %d evals, %d parsed, %d round-tripped, %d failed to parse as "
              "expected\n",
              c.evals, c.parsed, c.round_tripped, c.failed_as_expected);
  EXPECT_EQ(c.evals, 566);
  EXPECT_EQ(c.parsed, c.round_tripped);
}

}  // namespace
}  // namespace strata::promql::parser
