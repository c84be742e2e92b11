// Helpers shared by the DB tests: a small fleet of series, appending a time range of
// samples through the DB's appender, and reading everything back through a querier.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "strata/model/labels.h"
#include "strata/model/matcher.h"
#include "strata/model/sample.h"
#include "strata/storage/querier.h"
#include "strata/tsdb/db.h"

namespace strata::tsdb::dbtest {

// Label-set text -> samples in time order.
using SeriesMap = std::map<std::string, std::vector<model::Sample>>;

// `o` with background compaction off, for tests that decide when Compact() runs.
inline DBOptions Manual(DBOptions o = {}) {
  o.compaction_interval_ms = 0;
  return o;
}

// Series i of the test fleet: {__name__="m", i="<i>", job="a" for even i, "b" for odd}.
inline model::Labels Series(int i) {
  return model::Labels::FromPairs(
      {{"__name__", "m"}, {"i", std::to_string(i)}, {"job", i % 2 == 0 ? "a" : "b"}});
}

inline model::Matcher Eq(const std::string& name, const std::string& value) {
  auto m = model::Matcher::Create(model::MatchType::kEqual, name, value);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

// Every sample of every series of `ss`, by series.
inline SeriesMap Drain(storage::SeriesSet& ss) {
  SeriesMap out;
  while (ss.Next()) {
    auto it = ss.At().Iterator();
    auto& v = out[ss.At().labels().ToString()];
    while (it->Next()) v.push_back(it->At());
    EXPECT_TRUE(it->status().ok()) << it->status();
  }
  EXPECT_TRUE(ss.status().ok()) << ss.status();
  return out;
}

// Every sample of metric "m" in [mint, maxt], by series.
inline SeriesMap QueryAll(storage::Queryable& q, int64_t mint = INT64_MIN,
                          int64_t maxt = INT64_MAX) {
  auto qr = q.NewQuerier(mint, maxt);
  EXPECT_TRUE(qr.ok()) << qr.status();
  if (!qr.ok()) return {};
  return Drain(*(*qr)->Select({Eq("__name__", "m")}));
}

// Appends `n` series with samples every `step` ms in [from, to), one commit per timestamp;
// returns what was appended.
inline SeriesMap AppendRange(DB& db, int n, int64_t from, int64_t to, int64_t step) {
  SeriesMap want;
  for (int64_t t = from; t < to; t += step) {
    auto app = db.NewAppender();
    for (int i = 0; i < n; ++i) {
      const double v = static_cast<double>(t / step) * 0.5 + i;
      auto r = app->Append(0, Series(i), t, v);
      EXPECT_TRUE(r.ok()) << r.status();
      want[Series(i).ToString()].push_back({t, v});
    }
    EXPECT_TRUE(app->Commit().ok());
  }
  return want;
}

// Same series with bit-for-bit the same timestamps and values.
inline bool SameSamples(const SeriesMap& a, const SeriesMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || it->second.size() != v.size()) return false;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i].t != it->second[i].t || v[i].v != it->second[i].v) return false;
    }
  }
  return true;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace strata::tsdb::dbtest
