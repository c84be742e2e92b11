// strata-promqltest: runs Prometheus PromQL test scripts against the strata engine.
//
//   strata-promqltest [--compat=2] [--verbose] FILE...
//
// Prints each file's counts and every failing eval (file:line, the eval command, expected vs
// got), then a final line "N passed, M failed, K skipped". Exits 1 if any eval failed or a
// file could not be run, 2 on bad usage.
#include <cstdio>
#include <string>
#include <vector>

#include "strata/promql/promqltest.h"

int main(int argc, char** argv) {
  strata::promql::promqltest::Options opts;
  bool verbose = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--compat=2") {
      opts.compat_2x = true;
    } else if (a == "--compat=3") {
      opts.compat_2x = false;
    } else if (a == "--verbose" || a == "-v") {
      verbose = true;
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s [--compat=2] [--verbose] FILE...\n", argv[0]);
      return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s [--compat=2] [--verbose] FILE...\n", argv[0]);
    return 2;
  }
  int passed = 0, failed = 0, skipped = 0;
  bool broken = false;
  for (const auto& f : files) {
    auto r = strata::promql::promqltest::RunTestFile(f, opts);
    if (!r.ok()) {
      std::printf("%s: ERROR %s\n", f.c_str(), std::string(r.status().message()).c_str());
      broken = true;
      continue;
    }
    std::printf("%s: %d passed, %d failed, %d skipped\n", f.c_str(), r->passed, r->failed,
                r->skipped);
    for (const auto& e : r->evals) {
      using O = strata::promql::promqltest::EvalResult::Outcome;
      if (e.outcome == O::kFailed) {
        std::printf("  FAIL %s:%d: %s\n    %s\n", f.c_str(), e.line, e.command.c_str(),
                    e.message.c_str());
      } else if (verbose && e.outcome == O::kSkipped) {
        std::printf("  SKIP %s:%d: %s (native histograms)\n", f.c_str(), e.line, e.command.c_str());
      }
    }
    passed += r->passed;
    failed += r->failed;
    skipped += r->skipped;
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return (failed > 0 || broken) ? 1 : 0;
}
