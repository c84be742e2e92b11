// strata::promql values: what a PromQL expression evaluates to, as in Prometheus's
// promql/value.go. Float samples only for now; native histograms come with a later issue.
//
// Value types are plain data and thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/model/labels.h"

namespace strata::promql {

enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };

// "scalar", "vector", "matrix", "string" as Prometheus's API names them ("none" for kNone).
std::string_view ValueTypeName(ValueType t);

// One point of a series (Prometheus FPoint).
struct Point {
  int64_t t = 0;  // ms
  double v = 0;
};

// One element of an instant vector (Prometheus promql.Sample).
struct Sample {
  model::Labels metric;
  int64_t t = 0;  // ms
  double v = 0;
  // Set when `metric` still carries __name__ only because name dropping is delayed
  // (Prometheus 3.x DropName); the engine removes the name before returning results.
  bool drop_name = false;
};
using Vector = std::vector<Sample>;

// One element of a range vector / range-query result (Prometheus promql.Series).
struct Series {
  model::Labels metric;
  std::vector<Point> points;
  bool drop_name = false;
};
using Matrix = std::vector<Series>;

struct Scalar {
  int64_t t = 0;
  double v = 0;
};

struct String {
  int64_t t = 0;
  std::string v;
};

}  // namespace strata::promql
