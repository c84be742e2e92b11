// Helpers shared by the WAL tests.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "strata/base/file_system.h"
#include "strata/tsdb/wal/reader.h"

namespace strata::tsdb::wal::testutil {

// Every record of segments [first, last] of `dir`, or the reader's error.
inline absl::StatusOr<std::vector<std::string>> ReadAll(const std::string& dir, int first = -1,
                                                       int last = -1,
                                                       base::FileSystem* fs = nullptr) {
  auto r = Reader::Open({SegmentRange{dir, first, last}}, ReaderOptions{fs});
  if (!r.ok()) return r.status();
  std::vector<std::string> out;
  while ((*r)->Next()) out.emplace_back((*r)->record());
  if (!(*r)->status().ok()) return (*r)->status();
  return out;
}

// `n` pseudo-random bytes from `seed` (incompressible).
inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// A compressible record body of `n` bytes tagged with `id`.
inline std::string TextRecord(int id, size_t n) {
  std::string s = "record-" + std::to_string(id) + ":";
  while (s.size() < n) s += "abcdefgh";
  s.resize(n);
  return s;
}

}  // namespace strata::tsdb::wal::testutil
