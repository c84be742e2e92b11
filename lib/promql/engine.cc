// The PromQL evaluator. Structure follows Prometheus promql/engine.go: every expression is
// evaluated over all steps of the query at once into a Matrix (one series per label set,
// one point per step where it has a value); functions, operators and aggregations run per
// step over the children's values (upstream rangeEval); selectors read each series once and
// walk the steps with a moving cursor (upstream vectorSelectorSingle / matrixIterSlice).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "promql/functions.h"
#include "re2/re2.h"
#include "xxhash.h"
#include "base/status_macros.h"
#include "strata/model/sample.h"
#include "strata/promql/engine.h"
#include "strata/promql/parser/functions.h"
#include "strata/promql/parser/parser.h"

namespace strata::promql {

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "vector";
    case ValueType::kMatrix: return "matrix";
    case ValueType::kString: return "string";
    case ValueType::kNone: break;
  }
  return "none";
}

namespace {

using parser::AggregateExpr;
using parser::AggregateOp;
using parser::BinaryExpr;
using parser::BinaryOp;
using parser::Call;
using parser::Cardinality;
using parser::Expr;
using parser::MatrixSelector;
using parser::NodeKind;
using parser::SubqueryExpr;
using parser::VectorSelector;
using internal::RangeArgs;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Evaluation times start, start+step, ..., end.
struct Range {
  int64_t start = 0;
  int64_t end = 0;
  int64_t step = 1;
  int64_t n() const { return (end - start) / step + 1; }
  int64_t At(int64_t i) const { return start + i * step; }
};

// Series data of a range-vector argument: raw samples (no stale markers) per series, and
// where the window for evaluation time ts lies.
struct RangeSource {
  std::vector<model::Labels> labels;
  std::vector<std::vector<Point>> points;
  // Start timestamps per series, parallel to points (0 where unknown); empty for a series
  // without any, and always for subquery results (subqueries cut their propagation).
  std::vector<std::vector<int64_t>> sts;
  std::vector<bool> drop;  // delayed name removal pending (subquery results)
  bool anchored = false;   // 3.x extended range selectors
  bool smoothed = false;
  int64_t range_ms = 0;
  int64_t offset_ms = 0;
  std::optional<int64_t> at;  // fixed reference time from @
  int64_t RefTime(int64_t ts) const { return (at ? *at : ts) - offset_ms; }
};

absl::Status Invalid(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

// Go's math.Max / math.Min: an infinity wins over NaN, NaN over everything else.
double GoMax(double a, double b) {
  if (std::isinf(a) && a > 0) return a;
  if (std::isinf(b) && b > 0) return b;
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (a == 0 && b == 0) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
double GoMin(double a, double b) {
  if (std::isinf(a) && a < 0) return a;
  if (std::isinf(b) && b < 0) return b;
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (a == 0 && b == 0) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

// Arithmetic drops the metric name (atan2 only since 3.x; v2.42 shouldDropMetricName
// lists + - * / % ^).
bool DropsName(BinaryOp op, bool compat_2x) {
  switch (op) {
    case BinaryOp::kAdd: case BinaryOp::kSub: case BinaryOp::kMul: case BinaryOp::kDiv:
    case BinaryOp::kMod: case BinaryOp::kPow:
      return true;
    case BinaryOp::kAtan2:
      return !compat_2x;
    default:
      return false;
  }
}

// Upstream vectorElemBinop for floats: (value, keep).
std::pair<double, bool> ElemBinop(BinaryOp op, double l, double r) {
  switch (op) {
    case BinaryOp::kAdd: return {l + r, true};
    case BinaryOp::kSub: return {l - r, true};
    case BinaryOp::kMul: return {l * r, true};
    case BinaryOp::kDiv: return {l / r, true};
    case BinaryOp::kPow: return {std::pow(l, r), true};
    case BinaryOp::kMod: return {std::fmod(l, r), true};
    case BinaryOp::kAtan2: return {std::atan2(l, r), true};
    case BinaryOp::kEql: return {l, l == r};
    case BinaryOp::kNeq: return {l, l != r};
    case BinaryOp::kGtr: return {l, l > r};
    case BinaryOp::kLss: return {l, l < r};
    case BinaryOp::kGte: return {l, l >= r};
    case BinaryOp::kLte: return {l, l <= r};
    default: return {kNaN, false};
  }
}

int64_t DurationMs(double seconds) {
  // time.Duration(seconds * 1e9) truncated to milliseconds, as upstream.
  const double ns = seconds * 1e9;
  if (!(std::abs(ns) < 9.2e18)) return ns > 0 ? INT64_MAX / 4 : INT64_MIN / 4;
  return static_cast<int64_t>(ns) / 1000000;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

class Evaluator {
 public:
  Evaluator(const EngineOptions& opts, storage::Queryable& db, std::string_view query,
            int64_t start, int64_t end, int64_t step)
      : o_(opts), db_(db), query_(query), qstart_(start), qend_(end), qstep_(step) {
    deadline_ = absl::Now() + opts.timeout;
  }

  absl::StatusOr<Matrix> Eval(const Expr& e, const Range& r);
  // For an instant query of a range selector or subquery: the raw points.
  absl::StatusOr<Matrix> EvalRangeRaw(const Expr& e, int64_t ts);

  std::vector<std::string> warnings, infos;
  int64_t cur_samples = 0, peak_samples = 0, total_samples = 0;
  // Time spent opening queriers and selecting series (Select), as Prometheus's
  // queryPreparationTime; selection happens lazily during evaluation here, so it is summed.
  absl::Duration prepare_time;

  std::string Pos(const Expr& e) const {
    int line = 1, col = 1;
    for (int32_t i = 0; i < e.pos.start && i < static_cast<int32_t>(query_.size()); ++i) {
      if (query_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return absl::StrFormat("(%d:%d)", line, col);
  }
  void Warn(std::string msg, const Expr& e) {
    Add(warnings, internal::Cat("PromQL warning: ", msg, " ", Pos(e)));
  }
  void Info(std::string msg, const Expr& e) {
    Add(infos, internal::Cat("PromQL info: ", msg, " ", Pos(e)));
  }
  absl::Status AddSamples(int64_t n) {
    cur_samples += n;
    total_samples += n;
    peak_samples = std::max(peak_samples, cur_samples);
    if (cur_samples > o_.max_samples) {
      return absl::ResourceExhaustedError(
          "query processing would load too many samples into memory in query execution");
    }
    return absl::OkStatus();
  }
  absl::Status CheckDeadline() {
    if (absl::Now() > deadline_) {
      return absl::DeadlineExceededError("query timed out in expression evaluation");
    }
    return absl::OkStatus();
  }
  // Resolves an @ modifier to a timestamp, if any.
  std::optional<int64_t> AtTime(const parser::AtModifier& at) const {
    switch (at.kind) {
      case parser::AtModifier::Kind::kTimestamp: return at.timestamp_ms;
      case parser::AtModifier::Kind::kStart: return qstart_;
      case parser::AtModifier::Kind::kEnd: return qend_;
      case parser::AtModifier::Kind::kNone: break;
    }
    return std::nullopt;
  }
  absl::StatusOr<int64_t> DurationOf(int64_t literal, const parser::ExprPtr& expr) const {
    if (!expr) return literal;
    parser::DurationContext ctx{qstep_, qend_ - qstart_};
    STRATA_ASSIGN_OR_RETURN(double sec, parser::EvalDurationExpr(*expr, ctx));
    return DurationMs(sec);
  }
  bool compat() const { return o_.compat_2x; }
  // Metric names are dropped at once in 2.x, flagged for the end in 3.x.
  void DropName(Sample& s) const {
    if (o_.compat_2x) {
      if (s.metric.Has(model::kMetricName)) s.metric = s.metric.WithoutMetricName();
    } else {
      s.drop_name = true;
    }
  }

 private:
  static void Add(std::vector<std::string>& v, std::string s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
  }

  absl::StatusOr<Matrix> EvalVectorSelector(const VectorSelector& vs, const Range& r);
  // start: start_timestamp() instead of timestamp().
  absl::StatusOr<Matrix> EvalTimestampOfSelector(const VectorSelector& vs, const Range& r,
                                                 bool start = false);
  // want_st: also read start timestamps (3.x counter functions).
  absl::StatusOr<RangeSource> LoadRange(const Expr& arg, const Range& r, bool want_st = false);
  absl::StatusOr<Matrix> EvalRangeCall(const Call& c, const Range& r);
  absl::StatusOr<Matrix> EvalCall(const Call& c, const Range& r);
  absl::StatusOr<Matrix> EvalInfo(const Call& c, const Range& r);
  // The time at which info() looks up info series for evaluation time ts: the reference
  // time of the base expression's (first) selector after its @ and offset modifiers.
  int64_t InfoRefTime(const Expr& e, int64_t ts) const;
  absl::StatusOr<Matrix> EvalBinary(const BinaryExpr& b, const Range& r);
  absl::StatusOr<Matrix> EvalAggregate(const AggregateExpr& a, const Range& r);
  absl::StatusOr<Matrix> EvalSubqueryInner(const SubqueryExpr& sq, const Range& r,
                                           RangeSource* src);

  absl::StatusOr<std::unique_ptr<storage::SeriesSet>> Select(
      const VectorSelector& vs, int64_t mint, int64_t maxt, int64_t range, std::string func,
      std::unique_ptr<storage::Querier>* q);

  const EngineOptions& o_;
  storage::Queryable& db_;
  std::string_view query_;
  int64_t qstart_, qend_, qstep_;
  absl::Time deadline_;
};

// Collects per-step vectors into a matrix (upstream rangeEval's output side).
class MatrixBuilder {
 public:
  explicit MatrixBuilder(const Range& r) : r_(r) {}
  absl::Status Add(int64_t ts, Vector& vec) {
    for (Sample& s : vec) {
      const uint64_t h = s.metric.Hash() ^ (s.drop_name ? 0x9e3779b97f4a7c15ull : 0);
      auto [it, inserted] = index_.try_emplace(h, out_.size());
      if (inserted) {
        out_.push_back(Series{std::move(s.metric), {}, s.drop_name});
        if (r_.n() > 1) out_.back().points.reserve(static_cast<size_t>(std::min<int64_t>(r_.n(), 1024)));
      } else if (!out_[it->second].points.empty() && out_[it->second].points.back().t == ts) {
        return Invalid("vector cannot contain metrics with the same labelset");
      }
      out_[it->second].points.push_back(Point{ts, s.v});
    }
    return absl::OkStatus();
  }
  Matrix Take() { return std::move(out_); }

 private:
  Range r_;
  absl::flat_hash_map<uint64_t, size_t> index_;
  Matrix out_;
};

// Walks a matrix (series with points on the step grid) step by step, producing the vector
// at each step without re-scanning (each series keeps a cursor).
class StepCursor {
 public:
  explicit StepCursor(const Matrix& m) : m_(m), pos_(m.size(), 0) {}
  void VectorAt(int64_t ts, Vector& out) {
    out.clear();
    for (size_t i = 0; i < m_.size(); ++i) {
      const auto& pts = m_[i].points;
      size_t& p = pos_[i];
      while (p < pts.size() && pts[p].t < ts) ++p;
      if (p < pts.size() && pts[p].t == ts) {
        out.push_back(Sample{m_[i].metric, ts, pts[p].v, m_[i].drop_name});
      }
    }
  }
  // For a scalar matrix: the value at ts (NaN when absent).
  double ScalarAt(int64_t ts) {
    if (m_.empty()) return kNaN;
    const auto& pts = m_[0].points;
    size_t& p = pos_[0];
    while (p < pts.size() && pts[p].t < ts) ++p;
    if (p < pts.size() && pts[p].t == ts) return pts[p].v;
    return kNaN;
  }

 private:
  const Matrix& m_;
  std::vector<size_t> pos_;
};

Matrix ScalarMatrix(const Range& r, double v) {
  Series s;
  s.points.reserve(static_cast<size_t>(r.n()));
  for (int64_t i = 0; i < r.n(); ++i) s.points.push_back(Point{r.At(i), v});
  Matrix m;
  m.push_back(std::move(s));
  return m;
}

int64_t CountPoints(const Matrix& m) {
  int64_t n = 0;
  for (const auto& s : m) n += static_cast<int64_t>(s.points.size());
  return n;
}

absl::StatusOr<std::unique_ptr<storage::SeriesSet>> Evaluator::Select(
    const VectorSelector& vs, int64_t mint, int64_t maxt, int64_t range, std::string func,
    std::unique_ptr<storage::Querier>* q) {
  const absl::Time t0 = absl::Now();
  auto querier = db_.NewQuerier(mint, maxt);
  if (!querier.ok()) {
    prepare_time += absl::Now() - t0;
    return querier.status();
  }
  *q = std::move(*querier);
  storage::SelectHints hints;
  hints.start = mint;
  hints.end = maxt;
  hints.step = qstep_;
  hints.range = range;
  hints.func = std::move(func);
  std::unique_ptr<storage::SeriesSet> set = (*q)->Select(vs.matchers, &hints);
  prepare_time += absl::Now() - t0;
  return set;
}

absl::StatusOr<Matrix> Evaluator::EvalVectorSelector(const VectorSelector& vs, const Range& r) {
  STRATA_ASSIGN_OR_RETURN(int64_t offset, DurationOf(vs.offset_ms, vs.offset_expr));
  const std::optional<int64_t> at = AtTime(vs.at);
  auto ref = [&](int64_t ts) { return (at ? *at : ts) - offset; };
  const int64_t lookback = o_.lookback_delta_ms;
  const int64_t mint = std::min(ref(r.start), ref(r.end)) - lookback;
  // smoothed (3.x extended selectors) interpolates towards the next sample: read ahead.
  const int64_t maxt = std::max(ref(r.start), ref(r.end)) + (vs.smoothed ? lookback : 0);
  std::unique_ptr<storage::Querier> q;
  STRATA_ASSIGN_OR_RETURN(auto set, Select(vs, mint, maxt, 0, "", &q));
  Matrix out;
  std::unique_ptr<storage::SampleIterator> it;
  const int64_t n = r.n();
  size_t nseries = 0;
  while (set->Next()) {
    if ((nseries++ & 255) == 0) STRATA_RETURN_IF_ERROR(CheckDeadline());
    storage::Series& series = set->At();
    it = series.Iterator(std::move(it));
    Series s;
    bool have_cur = false, have_next = false, done = false;
    model::Sample cur, next;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t ts = r.At(i);
      const int64_t rt = ref(ts);
      // Advance so that cur is the last sample with t <= rt.
      while (!done) {
        if (!have_next) {
          if (!it->Next()) {
            done = true;
            break;
          }
          next = it->At();
          have_next = true;
        }
        if (next.t > rt) break;
        cur = next;
        have_cur = true;
        have_next = false;
      }
      if (!have_cur) continue;
      const bool in_window = compat() ? cur.t >= rt - lookback : cur.t > rt - lookback;
      if (!in_window || model::IsStaleNaN(cur.v)) continue;
      if (s.points.empty()) s.points.reserve(static_cast<size_t>(std::min<int64_t>(n, 1024)));
      double v = cur.v;
      if (vs.smoothed && have_next && !model::IsStaleNaN(next.v) && cur.t < rt) {
        v = cur.v + (next.v - cur.v) * static_cast<double>(rt - cur.t) /
                        static_cast<double>(next.t - cur.t);
      }
      s.points.push_back(Point{ts, v});
    }
    STRATA_RETURN_IF_ERROR(it->status());
    if (!s.points.empty()) {
      STRATA_RETURN_IF_ERROR(AddSamples(static_cast<int64_t>(s.points.size())));
      s.metric = series.labels();
      out.push_back(std::move(s));
    }
  }
  STRATA_RETURN_IF_ERROR(set->status());
  return out;
}

// timestamp(selector): the timestamp of the sample each step picked (upstream
// rangeEvalTimestampFunctionOverVectorSelector). start_timestamp(selector): that sample's
// start timestamp instead, 0 when it has none (start_timestamps.test).
absl::StatusOr<Matrix> Evaluator::EvalTimestampOfSelector(const VectorSelector& vs,
                                                          const Range& r, bool start) {
  STRATA_ASSIGN_OR_RETURN(int64_t offset, DurationOf(vs.offset_ms, vs.offset_expr));
  const std::optional<int64_t> at = AtTime(vs.at);
  auto ref = [&](int64_t ts) { return (at ? *at : ts) - offset; };
  const int64_t lookback = o_.lookback_delta_ms;
  const int64_t mint = std::min(ref(r.start), ref(r.end)) - lookback;
  const int64_t maxt = std::max(ref(r.start), ref(r.end));
  std::unique_ptr<storage::Querier> q;
  STRATA_ASSIGN_OR_RETURN(
      auto set, Select(vs, mint, maxt, 0, start ? "start_timestamp" : "timestamp", &q));
  Matrix out;
  while (set->Next()) {
    storage::Series& series = set->At();
    std::vector<model::Sample> samples;
    std::vector<int64_t> sts;
    auto it = series.Iterator();
    while (it->Next()) {
      samples.push_back(it->At());
      if (start) sts.push_back(it->AtST());
    }
    STRATA_RETURN_IF_ERROR(it->status());
    Series s;
    s.metric = series.labels();
    s.drop_name = !compat();
    if (compat()) s.metric = s.metric.WithoutMetricName();
    size_t p = 0;
    for (int64_t i = 0; i < r.n(); ++i) {
      const int64_t ts = r.At(i), rt = ref(ts);
      while (p < samples.size() && samples[p].t <= rt) ++p;
      if (p == 0) continue;
      const model::Sample& c = samples[p - 1];
      const bool in_window = compat() ? c.t >= rt - lookback : c.t > rt - lookback;
      if (!in_window || model::IsStaleNaN(c.v)) continue;
      s.points.push_back(Point{ts, static_cast<double>(start ? sts[p - 1] : c.t) / 1000});
    }
    if (!s.points.empty()) out.push_back(std::move(s));
  }
  STRATA_RETURN_IF_ERROR(set->status());
  return out;
}

// Evaluation times of a subquery (upstream: aligned to multiples of the step from 0).
absl::StatusOr<Matrix> Evaluator::EvalSubqueryInner(const SubqueryExpr& sq, const Range& r,
                                                    RangeSource* src) {
  STRATA_ASSIGN_OR_RETURN(int64_t range, DurationOf(sq.range_ms, sq.range_expr));
  STRATA_ASSIGN_OR_RETURN(int64_t offset, DurationOf(sq.offset_ms, sq.offset_expr));
  int64_t step = sq.step_ms;
  if (sq.step_expr) {
    STRATA_ASSIGN_OR_RETURN(step, DurationOf(0, sq.step_expr));
  }
  if (step <= 0) step = o_.default_subquery_step_ms;
  const std::optional<int64_t> at = AtTime(sq.at);
  const int64_t first = (at ? *at : r.start) - offset;
  const int64_t last = (at ? *at : r.end) - offset;
  Range inner;
  inner.step = step;
  inner.start = step * ((first - range) / step);
  if (inner.start < first - range) inner.start += step;
  inner.end = last;
  src->range_ms = range;
  src->offset_ms = offset;
  src->at = at;
  if (inner.end < inner.start) return Matrix{};
  return Eval(*sq.expr, inner);
}

absl::StatusOr<RangeSource> Evaluator::LoadRange(const Expr& arg_in, const Range& r,
                                                 bool want_st) {
  const Expr* arg = &arg_in;
  while (arg->kind() == NodeKind::kParen) arg = parser::As<parser::ParenExpr>(*arg).expr.get();
  RangeSource src;
  if (arg->kind() == NodeKind::kMatrixSelector) {
    const auto& ms = parser::As<MatrixSelector>(*arg);
    const VectorSelector& vs = ms.selector();
    STRATA_ASSIGN_OR_RETURN(src.range_ms, DurationOf(ms.range_ms, ms.range_expr));
    STRATA_ASSIGN_OR_RETURN(src.offset_ms, DurationOf(vs.offset_ms, vs.offset_expr));
    src.at = AtTime(vs.at);
    src.anchored = vs.anchored;
    src.smoothed = vs.smoothed;
    // Extended selectors also read a lookback before the range (anchor / interpolation
    // start) and, when smoothed, a lookback after it (interpolation end).
    const int64_t extra_lo = (vs.anchored || vs.smoothed) ? o_.lookback_delta_ms : 0;
    const int64_t extra_hi = vs.smoothed ? o_.lookback_delta_ms : 0;
    const int64_t lo = std::min(src.RefTime(r.start), src.RefTime(r.end)) - extra_lo;
    const int64_t hi = std::max(src.RefTime(r.start), src.RefTime(r.end)) + extra_hi;
    std::unique_ptr<storage::Querier> q;
    STRATA_ASSIGN_OR_RETURN(auto set, Select(vs, lo - src.range_ms, hi, src.range_ms, "", &q));
    std::unique_ptr<storage::SampleIterator> it;
    while (set->Next()) {
      storage::Series& series = set->At();
      it = series.Iterator(std::move(it));
      std::vector<Point> pts;
      std::vector<int64_t> sts;
      bool have_st = false;
      const int64_t mint = lo - src.range_ms;
      if (it->Seek(compat() ? mint : mint + 1)) {
        do {
          const model::Sample smp = it->At();
          if (smp.t > hi) break;
          if (model::IsStaleNaN(smp.v)) continue;
          if (want_st && !compat()) {
            const int64_t st = it->AtST();
            if (st != storage::kNoStartTimestamp && !have_st) {
              have_st = true;
              sts.assign(pts.size(), storage::kNoStartTimestamp);
            }
            if (have_st) sts.push_back(st);
          }
          pts.push_back(Point{smp.t, smp.v});
        } while (it->Next());
      }
      STRATA_RETURN_IF_ERROR(it->status());
      STRATA_RETURN_IF_ERROR(AddSamples(static_cast<int64_t>(pts.size())));
      src.labels.push_back(series.labels());
      src.points.push_back(std::move(pts));
      src.sts.push_back(std::move(sts));
      src.drop.push_back(false);
    }
    STRATA_RETURN_IF_ERROR(set->status());
    return src;
  }
  if (arg->kind() == NodeKind::kSubquery) {
    STRATA_ASSIGN_OR_RETURN(Matrix m,
                            EvalSubqueryInner(parser::As<SubqueryExpr>(*arg), r, &src));
    for (Series& s : m) {
      src.labels.push_back(std::move(s.metric));
      src.drop.push_back(s.drop_name);
      std::vector<Point> pts;
      for (const Point& p : s.points) {
        if (!model::IsStaleNaN(p.v)) pts.push_back(p);
      }
      src.points.push_back(std::move(pts));
      src.sts.emplace_back();
    }
    return src;
  }
  return absl::InternalError("range argument is neither a matrix selector nor a subquery");
}

absl::StatusOr<Matrix> Evaluator::EvalRangeRaw(const Expr& e, int64_t ts) {
  Range r{ts, ts, 1};
  STRATA_ASSIGN_OR_RETURN(RangeSource src, LoadRange(e, r));
  const int64_t rt = src.RefTime(ts);
  Matrix out;
  for (size_t i = 0; i < src.labels.size(); ++i) {
    Series s;
    s.metric = src.labels[i];
    for (const Point& p : src.points[i]) {
      const bool in = (compat() ? p.t >= rt - src.range_ms : p.t > rt - src.range_ms) && p.t <= rt;
      if (in) s.points.push_back(p);
    }
    if (!s.points.empty()) out.push_back(std::move(s));
  }
  return out;
}

// Prometheus's labels.Labels.Hash(): xxHash64 (seed 0) over name 0xff value 0xff ... for
// every label in order.
uint64_t GoLabelsHash(const model::Labels& l) {
  std::string b;
  for (const auto& lb : l) {
    b.append(lb.name.data(), lb.name.size());
    b.push_back('\xff');
    b.append(lb.value.data(), lb.value.size());
    b.push_back('\xff');
  }
  return XXH64(b.data(), b.size(), 0);
}

// Labels for absent()/absent_over_time(): the equality matchers' pairs, except names that
// appear in more than one matcher (upstream createLabelsForAbsentFunction).
model::Labels AbsentLabels(const std::vector<model::Matcher>& ms) {
  model::LabelsBuilder b;
  absl::flat_hash_set<std::string> seen_twice;
  absl::flat_hash_map<std::string, int> count;
  for (const auto& m : ms) {
    if (m.name() != model::kMetricName) count[m.name()]++;
  }
  for (const auto& m : ms) {
    if (m.name() == model::kMetricName) continue;
    if (m.type() == model::MatchType::kEqual && count[m.name()] == 1) b.Set(m.name(), m.value());
  }
  return b.Build();
}

// Natural ("version") order used by sort_by_label: digit runs compare as numbers.
int NaturalCompare(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t ie = i, je = j;
      while (ie < a.size() && digit(a[ie])) ++ie;
      while (je < b.size() && digit(b[je])) ++je;
      std::string_view x = a.substr(i, ie - i), y = b.substr(j, je - j);
      while (x.size() > 1 && x[0] == '0') x.remove_prefix(1);
      while (y.size() > 1 && y[0] == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
      if (x != y) return x < y ? -1 : 1;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]) ? -1 : 1;
    ++i;
    ++j;
  }
  if (i < a.size()) return 1;
  if (j < b.size()) return -1;
  return 0;
}

// 3.x extended range selectors (`anchored`, `smoothed`) for rate, increase, delta, changes
// and resets. pts[lo, hi) is the plain window (start, end]. anchored: the last sample at
// or before the start (within the lookback) joins the window and nothing is extrapolated;
// at least one sample must lie in the window. smoothed: the values at start and end are
// interpolated linearly between the neighbouring samples (the last value is held after the
// series' last sample), and the increase is taken between them.
std::optional<double> ExtendedRange(std::string_view name, const std::vector<Point>& pts,
                                    size_t lo, size_t hi, int64_t start, int64_t end,
                                    const RangeSource& src) {
  const bool counter = name == "rate" || name == "increase" || name == "resets";
  std::vector<Point> seq;
  constexpr int64_t kLookback = 5 * 60 * 1000;
  if (src.anchored) {
    if (hi == lo) return std::nullopt;
    if (lo > 0 && pts[lo - 1].t > start - kLookback) seq.push_back(pts[lo - 1]);
    seq.insert(seq.end(), pts.begin() + static_cast<std::ptrdiff_t>(lo),
               pts.begin() + static_cast<std::ptrdiff_t>(hi));
  } else {
    auto interp = [&](size_t after, int64_t t) -> std::optional<double> {
      // `after`: index of the first sample > t.
      const bool has_before = after > 0 && pts[after - 1].t > t - kLookback;
      const bool has_after = after < pts.size();
      if (has_before && has_after) {
        const Point& a = pts[after - 1];
        const Point& b = pts[after];
        double av = a.v;
        if (counter && b.v < a.v) av = 0;  // a reset between the two: count up from zero
        return av + (b.v - av) * static_cast<double>(t - a.t) / static_cast<double>(b.t - a.t);
      }
      if (has_before) return pts[after - 1].v;
      if (has_after) return pts[after].v;
      return std::nullopt;
    };
    // hi is the first sample > end; lo the first > start.
    if (hi == 0 || pts[hi - 1].t <= end - kLookback) return std::nullopt;
    // Nothing inside the range: only interpolate between samples on both sides of it.
    if (lo == hi && (lo == 0 || hi >= pts.size())) return std::nullopt;
    auto vs = interp(lo, start);
    auto ve = interp(hi, end);
    if (!vs || !ve) return std::nullopt;
    seq.push_back(Point{start, *vs});
    for (size_t k = lo; k < hi; ++k) {
      if (pts[k].t < end) seq.push_back(pts[k]);
    }
    seq.push_back(Point{end, *ve});
  }
  if (seq.empty()) return std::nullopt;
  if (name == "changes" || name == "resets") {
    double n = 0;
    for (size_t k = 1; k < seq.size(); ++k) {
      if (name == "resets" ? seq[k].v < seq[k - 1].v : seq[k].v != seq[k - 1].v) ++n;
    }
    return n;
  }
  double result = seq.back().v - seq.front().v;
  if (counter) {
    for (size_t k = 1; k < seq.size(); ++k) {
      if (seq[k].v < seq[k - 1].v) result += seq[k - 1].v;
    }
  }
  if (name == "rate") result /= static_cast<double>(src.range_ms) / 1000;
  return result;
}

bool KeepsNameRangeFn(std::string_view name) {
  return name == "last_over_time" || name == "first_over_time";
}

bool IsCounterName(std::string_view n) {
  auto ends = [&](std::string_view suf) {
    return n.size() >= suf.size() && n.substr(n.size() - suf.size()) == suf;
  };
  return ends("_total") || ends("_sum") || ends("_count") || ends("_bucket");
}

absl::StatusOr<Matrix> Evaluator::EvalRangeCall(const Call& c, const Range& r) {
  const std::string_view name = c.func->name;
  size_t mat_idx = 0;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (c.args[i]->type() == parser::ValueType::kMatrix) mat_idx = i;
  }
  // Scalar arguments, evaluated over the steps.
  std::vector<Matrix> scalars;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (i == mat_idx) continue;
    STRATA_ASSIGN_OR_RETURN(Matrix m, Eval(*c.args[i], r));
    scalars.push_back(std::move(m));
  }
  std::vector<std::vector<double>> svals(scalars.size());
  for (size_t k = 0; k < scalars.size(); ++k) {
    StepCursor cur(scalars[k]);
    for (int64_t i = 0; i < r.n(); ++i) svals[k].push_back(cur.ScalarAt(r.At(i)));
  }
  const Expr& marg = *c.args[mat_idx];
  // Extended range selectors (3.x): only some functions accept anchored/smoothed ranges.
  {
    const Expr* a = &marg;
    while (a->kind() == NodeKind::kParen) a = parser::As<parser::ParenExpr>(*a).expr.get();
    if (a->kind() == NodeKind::kMatrixSelector) {
      const VectorSelector& vs = parser::As<MatrixSelector>(*a).selector();
      if (vs.anchored && !c.func->anchored_ok) {
        return Invalid(internal::Cat(
            "anchored modifier can only be used with: changes, delta, increase, rate, "
            "resets - not with ", name));
      }
      if (vs.smoothed && !c.func->smoothed_ok) {
        return Invalid(internal::Cat(
            "smoothed modifier can only be used with: delta, increase, rate - not with ",
            name));
      }

    }
  }
  if (name == "double_exponential_smoothing" || name == "holt_winters") {
    // Upstream validates the factors once, at the first step.
    const double sf = svals[0].empty() ? kNaN : svals[0][0];
    const double tf = svals[1].empty() ? kNaN : svals[1][0];
    if (!(sf > 0 && sf < 1)) {
      return Invalid(absl::StrFormat("invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf));
    }
    if (!(tf > 0 && tf < 1)) {
      return Invalid(absl::StrFormat("invalid trend factor. Expected: 0 < tf < 1, got: %f", tf));
    }
  }
  if (name == "quantile_over_time" && !svals.empty()) {
    for (double q : svals[0]) {
      if (std::isnan(q) || q < 0 || q > 1) {
        Warn(internal::Cat("quantile value should be between 0 and 1, got ", internal::FormatFloatGo(q)), *c.args[0]);
        break;
      }
    }
  }
  const bool counter_st_fn =
      name == "rate" || name == "increase" || name == "irate" || name == "resets";
  STRATA_ASSIGN_OR_RETURN(RangeSource src, LoadRange(marg, r, counter_st_fn));
  const bool is_absent = name == "absent_over_time";
  Matrix out;
  std::vector<bool> absent_seen(is_absent ? static_cast<size_t>(r.n()) : 0, false);
  const bool keep_name = KeepsNameRangeFn(name);
  const bool counter_fn = name == "rate" || name == "increase" || name == "irate";
  std::vector<double> tmp;
  for (size_t si = 0; si < src.labels.size(); ++si) {
    if ((si & 255) == 0) STRATA_RETURN_IF_ERROR(CheckDeadline());
    const std::vector<Point>& pts = src.points[si];
    const std::vector<int64_t>& sts = src.sts[si];
    Series s;
    size_t lo = 0, hi = 0;
    bool warned_counter = false;
    bool st_overlap = false;
    for (int64_t i = 0; i < r.n(); ++i) {
      const int64_t ts = r.At(i);
      const int64_t end = src.RefTime(ts);
      const int64_t start = end - src.range_ms;
      while (lo < pts.size() && (compat() ? pts[lo].t < start : pts[lo].t <= start)) ++lo;
      if (hi < lo) hi = lo;
      while (hi < pts.size() && pts[hi].t <= end) ++hi;
      // Windows move forward with ts unless @ pins them; re-scan if a pinned window
      // would need to move back (never happens: RefTime is monotonic in ts).
      std::span<const Point> win(pts.data() + lo, hi - lo);
      if (src.anchored || src.smoothed) {
        std::optional<double> v = ExtendedRange(name, pts, lo, hi, start, end, src);
        if (v) s.points.push_back(Point{ts, *v});
        continue;
      }
      if (is_absent) {
        if (!win.empty()) absent_seen[static_cast<size_t>(i)] = true;
        continue;
      }
      if (win.empty()) continue;
      RangeArgs a;
      a.points = win;
      if (!sts.empty()) a.sts = std::span<const int64_t>(sts.data() + lo, hi - lo);
      a.range_start = start;
      a.range_end = end;
      a.range_ms = src.range_ms;
      a.ts = ts;
      a.compat_2x = compat();
      std::optional<double> v;
      if (name == "rate") {
        v = internal::ExtrapolatedRate(a, true, true, &st_overlap);
      } else if (name == "increase") {
        v = internal::ExtrapolatedRate(a, true, false, &st_overlap);
      } else if (name == "delta") {
        v = internal::ExtrapolatedRate(a, false, false);
      } else if (name == "irate") {
        v = internal::InstantValue(a, true);
      } else if (name == "idelta") {
        v = internal::InstantValue(a, false);
      } else if (name == "deriv") {
        v = internal::Deriv(a);
      } else if (name == "predict_linear") {
        a.s0 = svals[0][static_cast<size_t>(i)];
        v = internal::PredictLinear(a);
      } else if (name == "resets") {
        v = internal::Resets(a);
      } else if (name == "changes") {
        v = internal::Changes(a);
      } else if (name == "double_exponential_smoothing" || name == "holt_winters") {
        a.s0 = svals[0][static_cast<size_t>(i)];
        a.s1 = svals[1][static_cast<size_t>(i)];
        v = internal::DoubleExponentialSmoothing(a);
      } else if (name == "avg_over_time") {
        v = compat() ? [&] {
          double mean = 0, count = 0;
          for (const Point& p : win) {
            count++;
            if (std::isinf(mean)) {
              if (std::isinf(p.v) && (mean > 0) == (p.v > 0)) continue;
              if (!std::isinf(p.v) && !std::isnan(p.v)) continue;
            }
            mean += p.v / count - mean / count;
          }
          return mean;
        }() : internal::AvgKahan(win);
      } else if (name == "sum_over_time") {
        if (compat()) {
          double sum = 0;
          for (const Point& p : win) sum += p.v;
          v = sum;
        } else {
          v = internal::SumKahan(win);
        }
      } else if (name == "count_over_time") {
        v = static_cast<double>(win.size());
      } else if (name == "min_over_time") {
        double m = win[0].v;
        for (const Point& p : win) {
          if (p.v < m || std::isnan(m)) m = p.v;
        }
        v = m;
      } else if (name == "max_over_time") {
        double m = win[0].v;
        for (const Point& p : win) {
          if (p.v > m || std::isnan(m)) m = p.v;
        }
        v = m;
      } else if (name == "last_over_time") {
        v = win.back().v;
      } else if (name == "first_over_time") {
        v = win.front().v;
      } else if (name == "present_over_time") {
        v = 1;
      } else if (name == "stddev_over_time") {
        v = std::sqrt(internal::StdvarOf(win));
      } else if (name == "stdvar_over_time") {
        v = internal::StdvarOf(win);
      } else if (name == "mad_over_time") {
        v = internal::MadOf(win);
      } else if (name == "quantile_over_time") {
        tmp.clear();
        for (const Point& p : win) tmp.push_back(p.v);
        v = internal::Quantile(svals[0][static_cast<size_t>(i)], tmp);
      } else if (name == "ts_of_last_over_time") {
        v = static_cast<double>(win.back().t) / 1000;
      } else if (name == "ts_of_first_over_time") {
        v = static_cast<double>(win.front().t) / 1000;
      } else if (name == "ts_of_min_over_time" || name == "ts_of_max_over_time") {
        const bool mx = name == "ts_of_max_over_time";
        double m = win[0].v;
        int64_t t = win[0].t;
        for (const Point& p : win) {
          // The latest timestamp wins ties, as upstream's compareOverTime with <=/>=.
          if ((mx ? p.v >= m : p.v <= m) || std::isnan(m)) {
            m = p.v;
            t = p.t;
          }
        }
        v = static_cast<double>(t) / 1000;
      } else {
        return absl::UnimplementedError(internal::Cat("function ", name, " is not supported"));
      }
      if (!v) continue;
      if (counter_fn && !warned_counter && !compat()) {
        const std::string_view mname = src.labels[si].MetricName();
        if (!IsCounterName(mname)) {
          Info(internal::Cat("metric might not be a counter, name does not end in "
                            "_total/_sum/_count/_bucket: ",
                            model::QuoteGo(mname)),
               marg);
        }
        warned_counter = true;
      }
      s.points.push_back(Point{ts, *v});
    }
    if (st_overlap) {
      Warn(internal::Cat("sample has start time that overlaps with previous sample timestamp "
                         "for metric ",
                         model::QuoteGo(src.labels[si].MetricName())),
           marg);
    }
    if (s.points.empty()) continue;
    STRATA_RETURN_IF_ERROR(AddSamples(static_cast<int64_t>(s.points.size())));
    s.metric = src.labels[si];
    s.drop_name = src.drop[si];
    if (!keep_name) {
      if (compat()) {
        s.metric = s.metric.WithoutMetricName();
      } else {
        s.drop_name = true;
      }
    }
    out.push_back(std::move(s));
  }
  if (is_absent) {
    Series s;
    for (int64_t i = 0; i < r.n(); ++i) {
      if (!absent_seen[static_cast<size_t>(i)]) s.points.push_back(Point{r.At(i), 1});
    }
    if (s.points.empty()) return Matrix{};
    // Labels from the equality matchers of the selector (upstream createLabelsForAbsent).
    const Expr* a = &marg;
    while (a->kind() == NodeKind::kParen) a = parser::As<parser::ParenExpr>(*a).expr.get();
    if (a->kind() == NodeKind::kMatrixSelector) {
      s.metric = AbsentLabels(parser::As<MatrixSelector>(*a).selector().matchers);
    }
    Matrix m;
    m.push_back(std::move(s));
    return m;
  }
  if (!compat() && !keep_name) {
    // Output series are keyed by labels after the (delayed) name removal; duplicates
    // surface at the end. 2.x detects them here.
  } else if (compat() && !keep_name) {
    std::vector<const model::Labels*> ls;
    for (const auto& s : out) ls.push_back(&s.metric);
    std::sort(ls.begin(), ls.end(), [](auto* a, auto* b) { return *a < *b; });
    for (size_t i = 1; i < ls.size(); ++i) {
      if (*ls[i] == *ls[i - 1]) return Invalid("vector cannot contain metrics with the same labelset");
    }
  }
  return out;
}

// Instant-vector and scalar functions (upstream funcXxx with vector arguments), evaluated
// step by step over the arguments' matrices.
absl::StatusOr<Matrix> Evaluator::EvalCall(const Call& c, const Range& r) {
  const std::string_view name = c.func->name;
  for (const auto& a : c.args) {
    if (a->type() == parser::ValueType::kMatrix) return EvalRangeCall(c, r);
  }
  if (name == "time") {
    Matrix m = ScalarMatrix(r, 0);
    for (Point& p : m[0].points) p.v = static_cast<double>(p.t) / 1000;
    return m;
  }
  if (name == "pi") return ScalarMatrix(r, M_PI);
  if (name == "step") return ScalarMatrix(r, static_cast<double>(qstep_) / 1000);
  if (name == "range") return ScalarMatrix(r, static_cast<double>(qend_ - qstart_) / 1000);
  if (name == "start") return ScalarMatrix(r, static_cast<double>(qstart_) / 1000);
  if (name == "end") return ScalarMatrix(r, static_cast<double>(qend_) / 1000);
  if (name == "info") return EvalInfo(c, r);
  if (name == "timestamp" || name == "start_timestamp") {
    const Expr* a = c.args[0].get();
    while (a->kind() == NodeKind::kParen) a = parser::As<parser::ParenExpr>(*a).expr.get();
    if (a->kind() == NodeKind::kVectorSelector) {
      return EvalTimestampOfSelector(parser::As<VectorSelector>(*a), r,
                                     name == "start_timestamp");
    }
    // Evaluated expressions carry no start timestamps (upstream: no result).
    if (name == "start_timestamp") {
      STRATA_ASSIGN_OR_RETURN(Matrix ignored, Eval(*c.args[0], r));
      return Matrix{};
    }
  }
  // Evaluate arguments: vectors and scalars over the steps; strings read from the AST.
  std::vector<Matrix> args(c.args.size());
  std::vector<std::string> strs(c.args.size());
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (c.args[i]->type() == parser::ValueType::kString) {
      const Expr* a = c.args[i].get();
      while (a->kind() == NodeKind::kParen) a = parser::As<parser::ParenExpr>(*a).expr.get();
      if (a->kind() != NodeKind::kStringLiteral) return Invalid("string argument must be a literal");
      strs[i] = parser::As<parser::StringLiteral>(*a).value;
      continue;
    }
    STRATA_ASSIGN_OR_RETURN(args[i], Eval(*c.args[i], r));
  }
  // label_replace / label_join validate their arguments once.
  std::unique_ptr<RE2> re;
  if (name == "label_replace") {
    RE2::Options ro;
    ro.set_log_errors(false);
    ro.set_dot_nl(!compat());
    re = std::make_unique<RE2>(internal::Cat("^(?:", strs[4], ")$"), ro);
    if (!re->ok()) {
      return Invalid(internal::Cat("invalid regular expression in label_replace(): ", strs[4]));
    }
    const std::string& dst = strs[1];
    const bool valid = compat() ? model::IsLegacyLabelName(dst)
                                : (!dst.empty() && model::IsValidUtf8(dst));
    if (!valid) return Invalid(internal::Cat("invalid destination label name in label_replace(): ", dst));
  }
  if (name == "label_join") {
    const std::string& dst = strs[1];
    const bool valid = compat() ? model::IsLegacyLabelName(dst)
                                : (!dst.empty() && model::IsValidUtf8(dst));
    if (!valid) return Invalid(internal::Cat("invalid destination label name in label_join(): ", dst));
    for (size_t i = 3; i < strs.size(); ++i) {
      const bool ok = compat() ? model::IsLegacyLabelName(strs[i]) : model::IsValidUtf8(strs[i]);
      if (!ok) return Invalid(internal::Cat("invalid source label name in label_join(): ", strs[i]));
    }
  }
  if (r.n() > 1 && (name == "sort" || name == "sort_desc" || name == "sort_by_label" ||
                    name == "sort_by_label_desc") && !compat()) {
    Warn("sort is ineffective for range queries since results are always ordered by labels", c);
  }
  std::vector<StepCursor> cursors;
  cursors.reserve(args.size());
  for (const Matrix& m : args) cursors.emplace_back(m);
  std::vector<Vector> in(args.size());
  std::vector<double> sc(args.size(), kNaN);
  MatrixBuilder mb(r);
  Vector out;
  const bool is_scalar_fn = name == "scalar";
  Series scalar_out;
  // Per-metric caches for label_replace (labels are the same at every step).
  absl::flat_hash_map<uint64_t, model::Labels> relabel_cache;
  struct BucketInfo {
    bool valid = false;
    double upper_bound = 0;
    model::Labels key;  // the series without `le`
    uint64_t key_hash = 0;
  };
  absl::flat_hash_map<uint64_t, BucketInfo> bucket_cache;
  for (int64_t i = 0; i < r.n(); ++i) {
    const int64_t ts = r.At(i);
    if ((i & 255) == 0) STRATA_RETURN_IF_ERROR(CheckDeadline());
    for (size_t k = 0; k < args.size(); ++k) {
      if (c.args[k]->type() == parser::ValueType::kVector) {
        cursors[k].VectorAt(ts, in[k]);
      } else if (c.args[k]->type() == parser::ValueType::kScalar) {
        sc[k] = cursors[k].ScalarAt(ts);
      }
    }
    out.clear();
    auto simple = [&](auto f) {
      for (Sample s : in[0]) {
        s.v = f(s.v);
        DropName(s);
        out.push_back(std::move(s));
      }
    };
    if (name == "abs") simple([](double v) { return std::abs(v); });
    else if (name == "ceil") simple([](double v) { return std::ceil(v); });
    else if (name == "floor") simple([](double v) { return std::floor(v); });
    else if (name == "exp") simple([](double v) { return std::exp(v); });
    else if (name == "sqrt") simple([](double v) { return std::sqrt(v); });
    else if (name == "ln") simple([](double v) { return std::log(v); });
    else if (name == "log2") simple([](double v) { return std::log2(v); });
    else if (name == "log10") simple([](double v) { return std::log10(v); });
    else if (name == "sin") simple([](double v) { return std::sin(v); });
    else if (name == "cos") simple([](double v) { return std::cos(v); });
    else if (name == "tan") simple([](double v) { return std::tan(v); });
    else if (name == "asin") simple([](double v) { return std::asin(v); });
    else if (name == "acos") simple([](double v) { return std::acos(v); });
    else if (name == "atan") simple([](double v) { return std::atan(v); });
    else if (name == "sinh") simple([](double v) { return std::sinh(v); });
    else if (name == "cosh") simple([](double v) { return std::cosh(v); });
    else if (name == "tanh") simple([](double v) { return std::tanh(v); });
    else if (name == "asinh") simple([](double v) { return std::asinh(v); });
    else if (name == "acosh") simple([](double v) { return std::acosh(v); });
    else if (name == "atanh") simple([](double v) { return std::atanh(v); });
    else if (name == "deg") simple([](double v) { return v * 180 / M_PI; });
    else if (name == "rad") simple([](double v) { return v * M_PI / 180; });
    else if (name == "sgn") simple([](double v) { return v < 0 ? -1.0 : v > 0 ? 1.0 : v; });
    else if (name == "timestamp") simple([&](double) { return static_cast<double>(ts) / 1000; });
    else if (name == "round") {
      const double to_nearest = c.args.size() > 1 ? sc[1] : 1.0;
      const double inv = 1.0 / to_nearest;
      simple([&](double v) { return std::floor(v * inv + 0.5) / inv; });
    } else if (name == "clamp") {
      const double mn = sc[1], mx = sc[2];
      if (!(mx < mn)) {
        simple([&](double v) { return GoMax(mn, GoMin(mx, v)); });
      }
    } else if (name == "clamp_min") {
      simple([&](double v) { return GoMax(sc[1], v); });
    } else if (name == "clamp_max") {
      simple([&](double v) { return GoMin(sc[1], v); });
    } else if (name == "min_of" || name == "max_of") {
      // Scalars only; NaN in either argument gives NaN.
      (void)0;
    } else if (name == "vector") {
      out.push_back(Sample{model::Labels(), ts, sc[0], false});
    } else if (name == "scalar") {
      scalar_out.points.push_back(Point{ts, in[0].size() == 1 ? in[0][0].v : kNaN});
    } else if (name == "year" || name == "month" || name == "day_of_month" ||
               name == "day_of_week" || name == "day_of_year" || name == "days_in_month" ||
               name == "hour" || name == "minute") {
      auto field = [&](double v) {
        const internal::DateFields d = internal::DateOf(static_cast<int64_t>(v));
        if (name == "year") return static_cast<double>(d.year);
        if (name == "month") return static_cast<double>(d.month);
        if (name == "day_of_month") return static_cast<double>(d.day);
        if (name == "day_of_week") return static_cast<double>(d.weekday);
        if (name == "day_of_year") return static_cast<double>(d.yday);
        if (name == "days_in_month") return static_cast<double>(d.days_in_month);
        if (name == "hour") return static_cast<double>(d.hour);
        return static_cast<double>(d.minute);
      };
      if (c.args.empty()) {
        out.push_back(Sample{model::Labels(), ts, field(static_cast<double>(ts) / 1000), false});
      } else {
        simple(field);
      }
    } else if (name == "absent") {
      if (in[0].empty()) {
        model::Labels l;
        const Expr* a = c.args[0].get();
        while (a->kind() == NodeKind::kParen) a = parser::As<parser::ParenExpr>(*a).expr.get();
        if (a->kind() == NodeKind::kVectorSelector) {
          l = AbsentLabels(parser::As<VectorSelector>(*a).matchers);
        }
        out.push_back(Sample{std::move(l), ts, 1, false});
      }
    } else if (name == "sort" || name == "sort_desc") {
      out = in[0];
      const bool desc = name == "sort_desc";
      // NaNs sort last in both directions (upstream vectorByValueHeap /
      // vectorByReverseValueHeap).
      std::stable_sort(out.begin(), out.end(), [desc](const Sample& a, const Sample& b) {
        if (std::isnan(a.v)) return false;
        if (std::isnan(b.v)) return true;
        return desc ? a.v > b.v : a.v < b.v;
      });
    } else if (name == "sort_by_label" || name == "sort_by_label_desc") {
      out = in[0];
      const bool desc = name == "sort_by_label_desc";
      std::vector<std::string> ls(strs.begin() + 1, strs.end());
      std::stable_sort(out.begin(), out.end(), [&](const Sample& a, const Sample& b) {
        for (const auto& l : ls) {
          const std::string_view av = a.metric.Get(l), bv = b.metric.Get(l);
          const int c = NaturalCompare(av, bv);
          if (c != 0) return desc ? c > 0 : c < 0;
        }
        // Ties: by the full label set, as upstream's labels.Compare fallback.
        return desc ? b.metric < a.metric : a.metric < b.metric;
      });
    } else if (name == "label_replace") {
      for (Sample s : in[0]) {
        const uint64_t h = s.metric.Hash();
        auto it = relabel_cache.find(h);
        if (it == relabel_cache.end()) {
          const std::string src(s.metric.Get(strs[3]));
          std::string res;
          const int ngroups = re->NumberOfCapturingGroups();
          std::vector<re2::StringPiece> groups(static_cast<size_t>(ngroups) + 1);
          model::Labels nl = s.metric;
          if (re->Match(src, 0, src.size(), RE2::UNANCHORED, groups.data(), ngroups + 1)) {
            // Go's Regexp.Expand: $1, ${1}, $name; an unknown reference expands to "".
            const std::string& tpl = strs[2];
            for (size_t p = 0; p < tpl.size(); ++p) {
              if (tpl[p] != '$' || p + 1 >= tpl.size()) {
                res += tpl[p];
                continue;
              }
              if (tpl[p + 1] == '$') {
                res += '$';
                ++p;
                continue;
              }
              std::string ref;
              size_t q = p + 1;
              if (tpl[q] == '{') {
                size_t e = tpl.find('}', q);
                if (e == std::string::npos) {
                  res += tpl[p];
                  continue;
                }
                ref = tpl.substr(q + 1, e - q - 1);
                q = e + 1;
              } else {
                while (q < tpl.size() && (std::isalnum(static_cast<unsigned char>(tpl[q])) || tpl[q] == '_')) {
                  ref += tpl[q++];
                }
              }
              if (ref.empty()) {
                res += tpl[p];
                continue;
              }
              int idx = -1;
              bool numeric = std::all_of(ref.begin(), ref.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
              if (numeric) {
                idx = std::atoi(ref.c_str());
              } else {
                const auto& named = re->NamedCapturingGroups();
                auto f = named.find(ref);
                if (f != named.end()) idx = f->second;
              }
              if (idx >= 0 && idx <= ngroups && groups[static_cast<size_t>(idx)].data() != nullptr) {
                res.append(groups[static_cast<size_t>(idx)].data(), groups[static_cast<size_t>(idx)].size());
              }
              p = q - 1;
            }
            model::LabelsBuilder b(s.metric);
            b.Set(strs[1], res);
            nl = b.Build();
          }
          it = relabel_cache.emplace(h, std::move(nl)).first;
        }
        if (strs[1] == model::kMetricName) s.drop_name = false;
        s.metric = it->second;
        out.push_back(std::move(s));
      }
    } else if (name == "label_join") {
      for (Sample s : in[0]) {
        std::string v;
        for (size_t k = 3; k < strs.size(); ++k) {
          if (k > 3) v += strs[2];
          v += s.metric.Get(strs[k]);
        }
        model::LabelsBuilder b(s.metric);
        b.Set(strs[1], v);
        s.metric = b.Build();
        if (strs[1] == model::kMetricName) s.drop_name = false;
        out.push_back(std::move(s));
      }
    } else if (name == "histogram_fraction" && compat()) {
      // Prometheus 2.42's histogram_fraction reads native histograms only, so over classic
      // `le` buckets it returns nothing (3.x also reads classic buckets).
    } else if (name == "histogram_quantile" || name == "histogram_fraction" ||
               name == "histogram_quantiles") {
      const bool frac = name == "histogram_fraction";
      const bool multi = name == "histogram_quantiles";
      const Vector& v = in[frac ? 2 : (multi ? 0 : 1)];
      std::vector<std::pair<double, const Expr*>> qs;
      if (multi) {
        for (size_t k = 2; k < c.args.size(); ++k) qs.emplace_back(sc[k], c.args[k].get());
      } else if (!frac) {
        qs.emplace_back(sc[0], c.args[0].get());
      }
      for (const auto& [q, qe] : qs) {
        if (std::isnan(q) || q < 0 || q > 1) {
          Warn(internal::Cat("quantile value should be between 0 and 1, got ", internal::FormatFloatGo(q)), *qe);
        }
      }
      const Expr& varg = *c.args[frac ? 2 : (multi ? 0 : 1)];
      struct Group {
        model::Labels metric;
        std::vector<internal::Bucket> buckets;
        bool drop;
      };
      absl::flat_hash_map<uint64_t, size_t> idx;
      std::vector<Group> groups;
      for (const Sample& s : v) {
        // The bucket bound and group of a series do not change between steps: cache them.
        const uint64_t sh = s.metric.Hash();
        auto cit = bucket_cache.find(sh);
        if (cit == bucket_cache.end()) {
          BucketInfo bi;
          bi.valid = internal::ParseFloatGo(s.metric.Get("le"), &bi.upper_bound);
          if (bi.valid) {
            bi.key = s.metric.Without({"le"});
            bi.key_hash = bi.key.Hash();
          }
          cit = bucket_cache.emplace(sh, std::move(bi)).first;
        }
        const std::string_view le = s.metric.Get("le");
        double ub = cit->second.upper_bound;
        if (!cit->second.valid) {
          Warn(internal::Cat("bucket label \"le\" is missing or has a malformed value of ",
                            model::QuoteGo(le), " for metric name ",
                            model::QuoteGo(s.metric.MetricName())),
               varg);
          continue;
        }
        const uint64_t h = cit->second.key_hash;
        auto [it, ins] = idx.try_emplace(h, groups.size());
        if (ins) groups.push_back(Group{cit->second.key, {}, s.drop_name});
        groups[it->second].buckets.push_back(internal::Bucket{ub, s.v});
      }
      for (Group& g : groups) {
        if (multi) {
          for (const auto& [q, qe] : qs) {
            std::vector<internal::Bucket> bs = g.buckets;
            bool forced = false;
            std::string qv = internal::FormatFloatGo(q);
            if (qv.find_first_of(".eIN") == std::string::npos) qv += ".0";
            model::LabelsBuilder lb(g.metric);
            lb.Set(strs[1], qv);
            Sample s{lb.Build(), ts, internal::BucketQuantile(q, bs, &forced, compat()), g.drop};
            DropName(s);
            out.push_back(std::move(s));
          }
          continue;
        }
        Sample s{std::move(g.metric), ts, 0, g.drop};
        if (frac) {
          s.v = internal::BucketFraction(sc[0], sc[1], g.buckets);
        } else {
          bool forced = false;
          s.v = internal::BucketQuantile(qs[0].first, g.buckets, &forced, compat());
          if (forced && !compat()) {
            Info(internal::Cat("input to histogram_quantile needed to be fixed for monotonicity "
                              "(see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) "
                              "for metric name ",
                              model::QuoteGo(s.metric.MetricName())),
                 varg);
          }
        }
        DropName(s);
        out.push_back(std::move(s));
      }
    } else if (name == "histogram_count" || name == "histogram_sum" || name == "histogram_avg" ||
               name == "histogram_stddev" || name == "histogram_stdvar") {
      // Native histograms only; float samples are ignored (upstream skips them).
    } else {
      return absl::UnimplementedError(internal::Cat("function ", name, " is not supported"));
    }
    STRATA_RETURN_IF_ERROR(mb.Add(ts, out));
  }
  if (name == "min_of" || name == "max_of") {
    Series so;
    StepCursor a0(args[0]), a1(args[1]);
    for (int64_t i = 0; i < r.n(); ++i) {
      const int64_t ts = r.At(i);
      const double x = a0.ScalarAt(ts), y = a1.ScalarAt(ts);
      double v = name == "min_of" ? std::min(x, y) : std::max(x, y);
      if (std::isnan(x) || std::isnan(y)) v = kNaN;
      so.points.push_back(Point{ts, v});
    }
    Matrix m;
    m.push_back(std::move(so));
    return m;
  }
  if (is_scalar_fn) {
    Matrix m;
    m.push_back(std::move(scalar_out));
    return m;
  }
  Matrix res = mb.Take();
  STRATA_RETURN_IF_ERROR(AddSamples(CountPoints(res)));
  return res;
}

int64_t Evaluator::InfoRefTime(const Expr& e, int64_t ts) const {
  switch (e.kind()) {
    case NodeKind::kVectorSelector: {
      const auto& vs = parser::As<VectorSelector>(e);
      auto off = DurationOf(vs.offset_ms, vs.offset_expr);
      const std::optional<int64_t> at = AtTime(vs.at);
      return (at ? *at : ts) - (off.ok() ? *off : 0);
    }
    case NodeKind::kMatrixSelector:
      return InfoRefTime(*parser::As<MatrixSelector>(e).vector_selector, ts);
    case NodeKind::kSubquery: {
      const auto& sq = parser::As<SubqueryExpr>(e);
      auto off = DurationOf(sq.offset_ms, sq.offset_expr);
      const std::optional<int64_t> at = AtTime(sq.at);
      return InfoRefTime(*sq.expr, (at ? *at : ts) - (off.ok() ? *off : 0));
    }
    default:
      break;
  }
  for (const Expr* c : parser::internal::Children(e)) {
    if (c->type() == parser::ValueType::kVector || c->type() == parser::ValueType::kMatrix) {
      return InfoRefTime(*c, ts);
    }
  }
  return ts;
}

// info(v, {selector}) (experimental, upstream evalInfo): adds the data labels of info
// series (default target_info) that share v's identifying labels (instance, job).
absl::StatusOr<Matrix> Evaluator::EvalInfo(const Call& c, const Range& r) {
  STRATA_ASSIGN_OR_RETURN(Matrix base, Eval(*c.args[0], r));
  std::vector<model::Matcher> name_ms, data_ms;
  const VectorSelector* sel = nullptr;
  if (c.args.size() > 1) {
    const Expr* a = c.args[1].get();
    while (a->kind() == NodeKind::kParen) a = parser::As<parser::ParenExpr>(*a).expr.get();
    if (a->kind() != NodeKind::kVectorSelector) return Invalid("info(): second argument must be a selector");
    sel = &parser::As<VectorSelector>(*a);
    for (const auto& m : sel->matchers) {
      (m.name() == model::kMetricName ? name_ms : data_ms).push_back(m);
    }
  }
  bool positive = false;
  for (const auto& m : name_ms) {
    positive = positive || m.type() == model::MatchType::kEqual || m.type() == model::MatchType::kRegexMatch;
  }
  // No name matcher: target_info. Only negative ones: among the *_info metrics.
  const bool base_filter = positive;
  if (!positive) {
    auto m = name_ms.empty()
                 ? model::Matcher::Create(model::MatchType::kEqual, model::kMetricName, "target_info")
                 : model::Matcher::Create(model::MatchType::kRegexMatch, model::kMetricName, ".+_info");
    if (!m.ok()) return m.status();
    name_ms.push_back(*m);
  }
  bool data_accepts_empty = true;
  std::vector<std::string> data_names;
  for (const auto& m : data_ms) {
    data_accepts_empty = data_accepts_empty && m.MatchesEmpty();
    data_names.push_back(m.name());
  }
  data_names = Sorted(std::move(data_names));
  // Reference times per step, and the info series' raw samples around them.
  std::vector<int64_t> refs(static_cast<size_t>(r.n()));
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (int64_t i = 0; i < r.n(); ++i) {
    refs[static_cast<size_t>(i)] = InfoRefTime(*c.args[0], r.At(i));
    lo = std::min(lo, refs[static_cast<size_t>(i)]);
    hi = std::max(hi, refs[static_cast<size_t>(i)]);
  }
  std::vector<model::Matcher> all = name_ms;
  all.insert(all.end(), data_ms.begin(), data_ms.end());
  VectorSelector tmp;
  tmp.matchers = all;
  std::unique_ptr<storage::Querier> q;
  STRATA_ASSIGN_OR_RETURN(auto set, Select(tmp, lo - o_.lookback_delta_ms, hi, 0, "info", &q));
  std::vector<model::Labels> info_labels;
  std::vector<std::vector<model::Sample>> info_samples;
  while (set->Next()) {
    auto it = set->At().Iterator();
    std::vector<model::Sample> smp;
    while (it->Next()) smp.push_back(it->At());
    STRATA_RETURN_IF_ERROR(it->status());
    info_labels.push_back(set->At().labels());
    info_samples.push_back(std::move(smp));
  }
  STRATA_RETURN_IF_ERROR(set->status());
  static const std::vector<std::string> kIdentifying = {"instance", "job"};
  StepCursor cur(base);
  Vector vec, out;
  MatrixBuilder mb(r);
  for (int64_t i = 0; i < r.n(); ++i) {
    const int64_t ts = r.At(i), ref = refs[static_cast<size_t>(i)];
    cur.VectorAt(ts, vec);
    out.clear();
    // Info series present at ref: index -> sample time.
    std::vector<std::pair<size_t, int64_t>> present;
    for (size_t k = 0; k < info_samples.size(); ++k) {
      const auto& smp = info_samples[k];
      auto e = std::upper_bound(smp.begin(), smp.end(), ref,
                                [](int64_t t, const model::Sample& x) { return t < x.t; });
      if (e == smp.begin()) continue;
      const model::Sample& last = *(e - 1);
      const bool in = compat() ? last.t >= ref - o_.lookback_delta_ms : last.t > ref - o_.lookback_delta_ms;
      if (!in || model::IsStaleNaN(last.v)) continue;
      present.emplace_back(k, last.t);
    }
    for (Sample& s : vec) {
      if ((base_filter || name_ms.size() == 1) && model::MatchesAll(name_ms, s.metric)) {
        out.push_back(std::move(s));  // info series themselves pass through
        continue;
      }
      // Per info metric name, the matching series with the latest sample wins.
      std::vector<std::pair<std::string_view, std::pair<size_t, int64_t>>> chosen;
      for (const auto& [k, t] : present) {
        const model::Labels& il = info_labels[k];
        bool match = true;
        for (const auto& id : kIdentifying) match = match && il.Get(id) == s.metric.Get(id);
        if (!match) continue;
        const std::string_view nm = il.MetricName();
        auto f = std::find_if(chosen.begin(), chosen.end(), [&](auto& e) { return e.first == nm; });
        if (f == chosen.end()) {
          chosen.push_back({nm, {k, t}});
        } else if (t > f->second.second) {
          f->second = {k, t};
        }
      }
      if (chosen.empty()) {
        if (data_accepts_empty) out.push_back(std::move(s));
        continue;
      }
      model::LabelsBuilder lb(s.metric);
      absl::flat_hash_map<std::string, std::string> added;
      for (const auto& [nm, kt] : chosen) {
        for (const auto& l : info_labels[kt.first]) {
          if (l.name == model::kMetricName || l.name == "instance" || l.name == "job") continue;
          if (!data_names.empty() && !std::binary_search(data_names.begin(), data_names.end(), std::string(l.name))) continue;
          if (s.metric.Has(l.name)) continue;
          auto [it, ins] = added.try_emplace(std::string(l.name), std::string(l.value));
          if (!ins && it->second != l.value) {
            return Invalid(internal::Cat("conflicting label: ", l.name, " has values ", it->second,
                                         " and ", l.value, " in info series"));
          }
          lb.Set(l.name, l.value);
        }
      }
      s.metric = lb.Build();
      out.push_back(std::move(s));
    }
    STRATA_RETURN_IF_ERROR(mb.Add(ts, out));
  }
  return mb.Take();
}

// Vector matching signature (upstream signatureFunc): on(...) hashes only those labels,
// ignoring(...) all but those and __name__.
// Matching signatures, memoised per label buffer: the samples of every step are copies of
// the operand matrices' series labels, which share their series' buffer and live for the
// whole evaluation, so a series' signature is hashed once instead of once per step.
struct Signer {
  bool on;
  std::vector<std::string> names;
  mutable absl::flat_hash_map<const char*, uint64_t> memo;
  Signer(const parser::VectorMatching& m) : on(m.on) {
    names = m.matching_labels;
    if (!on) names.push_back(std::string(model::kMetricName));
    names = Sorted(std::move(names));
  }
  uint64_t operator()(const model::Labels& l) const {
    const char* key = l.packed().data();
    if (key == nullptr) return l.HashFor(names, !on);
    auto [it, inserted] = memo.try_emplace(key, 0);
    if (inserted) it->second = l.HashFor(names, !on);
    return it->second;
  }
};

absl::StatusOr<Matrix> Evaluator::EvalBinary(const BinaryExpr& b, const Range& r) {
  const bool ls = b.lhs->type() == parser::ValueType::kScalar;
  const bool rs = b.rhs->type() == parser::ValueType::kScalar;
  STRATA_ASSIGN_OR_RETURN(Matrix lm, Eval(*b.lhs, r));
  STRATA_ASSIGN_OR_RETURN(Matrix rm, Eval(*b.rhs, r));
  const BinaryOp op = b.op;
  const bool cmp = parser::IsComparisonOp(op);
  if (ls && rs) {
    StepCursor lc(lm), rc(rm);
    Series s;
    for (int64_t i = 0; i < r.n(); ++i) {
      const int64_t ts = r.At(i);
      auto [v, keep] = ElemBinop(op, lc.ScalarAt(ts), rc.ScalarAt(ts));
      if (cmp) v = keep ? 1 : 0;  // scalar comparisons always carry bool
      s.points.push_back(Point{ts, v});
    }
    Matrix m;
    m.push_back(std::move(s));
    return m;
  }
  if (ls || rs) {
    // Vector-scalar: per series, no matching needed.
    Matrix& vm = ls ? rm : lm;
    StepCursor sc(ls ? lm : rm);
    std::vector<double> svals(static_cast<size_t>(r.n()));
    for (int64_t i = 0; i < r.n(); ++i) svals[static_cast<size_t>(i)] = sc.ScalarAt(r.At(i));
    Matrix out;
    for (Series& s : vm) {
      Series o;
      for (const Point& p : s.points) {
        const double sv = svals[static_cast<size_t>((p.t - r.start) / r.step)];
        double lv = p.v, rv = sv;
        if (ls) std::swap(lv, rv);
        auto [v, keep] = ElemBinop(op, lv, rv);
        if (cmp && ls) v = rv;
        if (b.return_bool) {
          v = keep ? 1 : 0;
          keep = true;
        }
        if (keep) o.points.push_back(Point{p.t, v});
      }
      if (o.points.empty()) continue;
      Sample tmp{std::move(s.metric), 0, 0, s.drop_name};
      if (DropsName(op, compat()) || b.return_bool) DropName(tmp);
      o.metric = std::move(tmp.metric);
      o.drop_name = tmp.drop_name;
      out.push_back(std::move(o));
    }
    if (compat() && (DropsName(op, compat()) || b.return_bool)) {
      // 2.x: dropping the name may create duplicates, which rangeEval rejects.
      std::vector<const model::Labels*> ls2;
      for (const auto& s : out) ls2.push_back(&s.metric);
      std::sort(ls2.begin(), ls2.end(), [](auto* a, auto* c) { return *a < *c; });
      for (size_t i = 1; i < ls2.size(); ++i) {
        if (*ls2[i] == *ls2[i - 1]) return Invalid("vector cannot contain metrics with the same labelset");
      }
    }
    return out;
  }
  // Vector-vector.
  const parser::VectorMatching& m = *b.matching;
  Signer sig(m);
  StepCursor lc(lm), rc(rm);
  Vector lv, rv, out;
  MatrixBuilder mb(r);
  absl::flat_hash_map<uint64_t, size_t> right;
  absl::flat_hash_map<uint64_t, std::vector<uint64_t>> matched;
  absl::flat_hash_set<uint64_t> sigs;
  std::vector<std::string> include = Sorted(m.include);
  // resultMetric memoised per (left, right) series pair, keyed by their label buffers as in
  // Signer: the result labels depend only on the pair, not on the step.
  struct ResultMetric {
    model::Labels metric;
    uint64_t hash;
  };
  absl::flat_hash_map<std::pair<const char*, const char*>, ResultMetric> result_memo;
  for (int64_t i = 0; i < r.n(); ++i) {
    const int64_t ts = r.At(i);
    if ((i & 255) == 0) STRATA_RETURN_IF_ERROR(CheckDeadline());
    lc.VectorAt(ts, lv);
    rc.VectorAt(ts, rv);
    out.clear();
    if (op == BinaryOp::kAnd || op == BinaryOp::kUnless) {
      sigs.clear();
      for (const Sample& s : rv) sigs.insert(sig(s.metric));
      for (const Sample& s : lv) {
        if (sigs.contains(sig(s.metric)) == (op == BinaryOp::kAnd)) out.push_back(s);
      }
    } else if (op == BinaryOp::kOr) {
      sigs.clear();
      for (const Sample& s : lv) {
        sigs.insert(sig(s.metric));
        out.push_back(s);
      }
      for (const Sample& s : rv) {
        if (!sigs.contains(sig(s.metric))) out.push_back(s);
      }
    } else {
      const bool one_to_many = m.card == Cardinality::kOneToMany;
      Vector& lhs = one_to_many ? rv : lv;
      Vector& rhs = one_to_many ? lv : rv;
      // Experimental fill modifiers apply to the sides after the one-to-many swap, as
      // upstream: fill_left supplies a missing (swapped) left-hand sample, fill_right a
      // missing right-hand one.
      const std::optional<double> fill_l = m.fill_lhs, fill_r = m.fill_rhs;
      if ((!lhs.empty() && !rhs.empty()) || (fill_l && !rhs.empty()) || (fill_r && !lhs.empty())) {
        right.clear();
        matched.clear();
        sigs.clear();  // right-hand signatures matched by some left-hand sample
        for (size_t k = 0; k < rhs.size(); ++k) {
          const uint64_t h = sig(rhs[k].metric);
          auto [it, ins] = right.try_emplace(h, k);
          if (!ins) {
            const model::Labels& a = rhs[it->second].metric;
            const model::Labels& c2 = rhs[k].metric;
            const model::Labels& first = a < c2 ? a : c2;
            const model::Labels& second = a < c2 ? c2 : a;
            model::Labels group = m.on ? rhs[k].metric.Keep(Sorted(m.matching_labels))
                                       : rhs[k].metric.Without(Sorted([&] {
                                           auto v = m.matching_labels;
                                           v.push_back(std::string(model::kMetricName));
                                           return v;
                                         }()));
            return Invalid(internal::Cat(
                "found duplicate series for the match group ", group.ToString(), " on the ",
                one_to_many ? "left" : "right", " hand-side of the operation: [",
                first.ToString(), ", ", second.ToString(),
                "];many-to-many matching not allowed: matching labels must be unique on one side"));
          }
        }
        for (const Sample& l : lhs) {
          const uint64_t h = sig(l.metric);
          auto it = right.find(h);
          Sample filled;
          if (it == right.end()) {
            if (!fill_r) continue;
            filled.v = *fill_r;
          } else {
            sigs.insert(h);
          }
          const Sample& rsm = it == right.end() ? filled : rhs[it->second];
          double a = l.v, c2 = rsm.v;
          if (one_to_many) std::swap(a, c2);
          if (!compat() && m.card == Cardinality::kOneToOne) {
            // 3.x reports ambiguous one-to-one matches before comparisons filter them.
            auto [mit, mins] = matched.try_emplace(h);
            if (!mins) {
              return Invalid(
                  "multiple matches for labels: many-to-one matching must be explicit "
                  "(group_left/group_right)");
            }
          }
          auto [v, keep] = ElemBinop(op, a, c2);
          if (b.return_bool) {
            v = keep ? 1 : 0;
          } else if (!keep) {
            continue;
          }
          Sample res{{}, ts, v, l.drop_name};
          const bool drop = DropsName(op, compat()) || b.return_bool;
          auto [rit, rnew] = result_memo.try_emplace(
              std::make_pair(l.metric.packed().data(), rsm.metric.packed().data()));
          if (rnew) {
            // resultMetric.
            model::LabelsBuilder lb(l.metric);
            if (drop && compat()) lb.Del(model::kMetricName);
            if (m.card == Cardinality::kOneToOne) {
              if (m.on) {
                model::LabelsBuilder k2;
                for (const auto& name : m.matching_labels) {
                  const std::string_view val = l.metric.Get(name);
                  if (!val.empty()) k2.Set(name, val);
                }
                lb = k2;
              } else {
                for (const auto& name : m.matching_labels) lb.Del(name);
              }
            }
            for (const auto& name : m.include) {
              const std::string_view val = rsm.metric.Get(name);
              if (!val.empty()) {
                lb.Set(name, val);
              } else {
                lb.Del(name);
              }
            }
            rit->second.metric = lb.Build();
            rit->second.hash = rit->second.metric.Hash();
          }
          res.metric = rit->second.metric;
          if (drop && !compat()) res.drop_name = true;
          auto [mit, mins] = matched.try_emplace(h);
          if (m.card == Cardinality::kOneToOne) {
            if (!mins && compat()) {
              return Invalid(
                  "multiple matches for labels: many-to-one matching must be explicit "
                  "(group_left/group_right)");
            }
          } else {
            const uint64_t ins_sig = rit->second.hash;
            if (std::find(mit->second.begin(), mit->second.end(), ins_sig) != mit->second.end()) {
              return Invalid(
                  "multiple matches for matching labels: grouping labels must ensure unique "
                  "matches");
            }
            mit->second.push_back(ins_sig);
          }
          out.push_back(std::move(res));
        }
        if (fill_l) {
          for (const Sample& rsm : rhs) {
            const uint64_t h = sig(rsm.metric);
            if (sigs.contains(h)) continue;
            double a = *fill_l, c2 = rsm.v;
            if (one_to_many) std::swap(a, c2);
            auto [v, keep] = ElemBinop(op, a, c2);
            if (b.return_bool) {
              v = keep ? 1 : 0;
            } else if (!keep) {
              continue;
            }
            // The result carries the match group's labels.
            Sample res{m.on ? rsm.metric.Keep(Sorted(m.matching_labels))
                            : rsm.metric.Without(sig.names),
                       ts, v, false};
            out.push_back(std::move(res));
          }
        }
      }
    }
    STRATA_RETURN_IF_ERROR(mb.Add(ts, out));
  }
  Matrix res = mb.Take();
  STRATA_RETURN_IF_ERROR(AddSamples(CountPoints(res)));
  return res;
}

// topk/bottomk exactly as upstream selects and orders them, ties included: a Go
// container/heap of at most k members with the weakest on top (NaN weakest), fed in input
// order. When the heap is full, 3.x overwrites the top with a strictly stronger element and
// fixes the heap; 2.x (compat) pops the top and pushes the newcomer (k == 1: overwrites),
// and also replaces a NaN top with a NaN. Which of two equal values survives differs between
// the two. The heap array is then sorted strongest first by sort.Sort, which for up to 12
// elements is Go's (stable) insertion sort; longer results are stable-sorted, so only their
// order among equal values may differ from Go's pdqsort.
std::vector<size_t> TopK(const std::vector<size_t>& members, const std::vector<double>& vals,
                         size_t k, bool top, bool compat) {
  std::vector<size_t> h;
  h.reserve(std::min(k, members.size()) + 1);
  // Heap order: less(i, j) means h[i] is weaker, so it belongs nearer the top.
  auto less = [&](size_t i, size_t j) {
    const double a1 = vals[h[i]], b1 = vals[h[j]];
    if (std::isnan(a1)) return true;
    return top ? a1 < b1 : a1 > b1;
  };
  auto up = [&](size_t j) {
    while (j > 0) {
      const size_t i = (j - 1) / 2;
      if (!less(j, i)) break;
      std::swap(h[i], h[j]);
      j = i;
    }
  };
  auto down = [&](size_t i0, size_t n) {
    size_t i = i0;
    for (;;) {
      const size_t j1 = 2 * i + 1;
      if (j1 >= n) break;
      size_t j = j1;
      if (j1 + 1 < n && less(j1 + 1, j1)) j = j1 + 1;
      if (!less(j, i)) break;
      std::swap(h[i], h[j]);
      i = j;
    }
    return i > i0;
  };
  for (size_t x : members) {
    if (h.size() < k) {
      h.push_back(x);
      up(h.size() - 1);
      continue;
    }
    const double t = vals[h[0]], v = vals[x];
    if (compat) {
      if (!((top ? t < v : t > v) || std::isnan(t))) continue;
      if (k == 1) {
        h[0] = x;
        continue;
      }
      // heap.Pop: the top swaps with the last, sifts down over the rest, and is dropped.
      std::swap(h[0], h.back());
      down(0, h.size() - 1);
      h.pop_back();
      h.push_back(x);
      up(h.size() - 1);
    } else if ((top ? t < v : t > v) || (std::isnan(t) && !std::isnan(v))) {
      h[0] = x;
      if (k > 1 && !down(0, h.size())) up(0);
    }
  }
  // sort.Sort(sort.Reverse(heap)): strongest first, i.e. less(j, i) as the order.
  auto stronger = [&](size_t x, size_t y) {
    const double a1 = vals[y], b1 = vals[x];
    if (std::isnan(a1)) return true;
    return top ? a1 < b1 : a1 > b1;
  };
  if (h.size() <= 12) {
    for (size_t i = 1; i < h.size(); ++i) {
      for (size_t j = i; j > 0 && stronger(h[j], h[j - 1]); --j) std::swap(h[j], h[j - 1]);
    }
  } else {
    std::stable_sort(h.begin(), h.end(), stronger);
  }
  return h;
}

absl::StatusOr<Matrix> Evaluator::EvalAggregate(const AggregateExpr& a, const Range& r) {
  const AggregateOp op = a.op;
  std::string count_label;
  Matrix param;
  if (op == AggregateOp::kCountValues) {
    const Expr* p = a.param.get();
    while (p->kind() == NodeKind::kParen) p = parser::As<parser::ParenExpr>(*p).expr.get();
    if (p->kind() != NodeKind::kStringLiteral) return Invalid("count_values label must be a string literal");
    count_label = parser::As<parser::StringLiteral>(*p).value;
    const bool ok = compat() ? model::IsLegacyLabelName(count_label)
                             : (!count_label.empty() && model::IsValidUtf8(count_label));
    if (!ok) return Invalid(internal::Cat("invalid label name ", model::QuoteGo(count_label)));
  } else if (a.param) {
    STRATA_ASSIGN_OR_RETURN(param, Eval(*a.param, r));
  }
  STRATA_ASSIGN_OR_RETURN(Matrix in, Eval(*a.expr, r));
  std::vector<std::string> grouping = a.grouping;
  if (a.without) grouping.push_back(std::string(model::kMetricName));
  if (op == AggregateOp::kCountValues) {
    // The value label joins the series' labels before grouping (upstream aggregation()).
    if (!a.without) grouping.push_back(count_label);
    grouping = Sorted(std::move(grouping));
    StepCursor cur(in);
    Vector vec, out;
    MatrixBuilder mb(r);
    for (int64_t i = 0; i < r.n(); ++i) {
      const int64_t ts = r.At(i);
      cur.VectorAt(ts, vec);
      out.clear();
      absl::flat_hash_map<uint64_t, size_t> idx;
      for (const Sample& s : vec) {
        model::LabelsBuilder lb(s.metric);
        lb.Set(count_label, internal::FormatFloatGo(s.v));
        const model::Labels m = lb.Build();
        const uint64_t h = m.HashFor(grouping, a.without);
        auto [it, ins] = idx.try_emplace(h, out.size());
        if (ins) {
          out.push_back(Sample{a.without ? m.Without(grouping) : m.Keep(grouping), ts, 0, false});
        }
        out[it->second].v += 1;
      }
      STRATA_RETURN_IF_ERROR(mb.Add(ts, out));
    }
    return mb.Take();
  }
  grouping = Sorted(std::move(grouping));
  // Group of each input series (constant across steps): computed once.
  struct GroupInfo {
    model::Labels metric;
  };
  std::vector<size_t> group_of(in.size());
  std::vector<GroupInfo> groups;
  {
    absl::flat_hash_map<uint64_t, size_t> idx;
    for (size_t i = 0; i < in.size(); ++i) {
      const uint64_t h = in[i].metric.HashFor(grouping, a.without);
      auto [it, ins] = idx.try_emplace(h, groups.size());
      if (ins) {
        model::Labels gm = a.without ? in[i].metric.Without(grouping) : in[i].metric.Keep(grouping);
        groups.push_back(GroupInfo{std::move(gm)});
      }
      group_of[i] = it->second;
    }
  }
  StepCursor pc(param);
  std::vector<size_t> pos(in.size(), 0);
  MatrixBuilder mb(r);
  Vector out;
  struct Acc {
    double value = 0, mean = 0, c = 0, count = 0;
    bool seen = false, incremental = false, drop = false;
    std::vector<size_t> members;  // input indexes, in input order
  };
  std::vector<Acc> acc(groups.size());
  std::vector<size_t> order;  // groups in order of first appearance at this step
  std::vector<double> vals(in.size());
  std::vector<bool> present(in.size());
  bool warned = false;
  for (int64_t i = 0; i < r.n(); ++i) {
    const int64_t ts = r.At(i);
    if ((i & 255) == 0) STRATA_RETURN_IF_ERROR(CheckDeadline());
    const double pv = a.param && op != AggregateOp::kCountValues ? pc.ScalarAt(ts) : 0;
    out.clear();
    order.clear();
    for (Acc& g : acc) {
      g = Acc{0, 0, 0, 0, false, false, false, std::move(g.members)};
      g.members.clear();
    }
    for (size_t k = 0; k < in.size(); ++k) {
      const auto& pts = in[k].points;
      size_t& p = pos[k];
      while (p < pts.size() && pts[p].t < ts) ++p;
      present[k] = p < pts.size() && pts[p].t == ts;
      if (!present[k]) continue;
      const double v = pts[p].v;
      vals[k] = v;
      Acc& g = acc[group_of[k]];
      if (!g.seen) {
        g.seen = true;
        order.push_back(group_of[k]);
      }
      g.members.push_back(k);
      g.count++;
      g.drop = g.drop || in[k].drop_name;
      switch (op) {
        case AggregateOp::kSum:
          if (compat()) g.value += v; else internal::KahanAdd(v, g.value, g.c);
          break;
        case AggregateOp::kAvg:
          if (g.count == 1) {
            g.value = v;  // used as the Kahan sum
            g.mean = v;
            break;
          }
          if (compat()) {
            if (std::isinf(g.mean)) {
              if (std::isinf(v) && (g.mean > 0) == (v > 0)) break;
              if (!std::isinf(v) && !std::isnan(v)) break;
            }
            g.mean += v / g.count - g.mean / g.count;
            break;
          }
          if (!g.incremental) {
            double ns = g.value, nc = g.c;
            internal::KahanAdd(v, ns, nc);
            if (!std::isinf(ns)) {
              g.value = ns;
              g.c = nc;
              break;
            }
            g.incremental = true;
            g.mean = g.value / (g.count - 1);
            g.c /= g.count - 1;
          }
          if (std::isinf(g.mean)) {
            if (std::isinf(v) && (g.mean > 0) == (v > 0)) break;
            if (!std::isinf(v) && !std::isnan(v)) break;
          }
          {
            const double corrected = g.mean + g.c;
            internal::KahanAdd(v / g.count - corrected / g.count, g.mean, g.c);
          }
          break;
        case AggregateOp::kMax:
          if (g.count == 1 || g.value < v || std::isnan(g.value)) g.value = v;
          break;
        case AggregateOp::kMin:
          if (g.count == 1 || g.value > v || std::isnan(g.value)) g.value = v;
          break;
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar: {
          if (!compat() && (std::isnan(v) || std::isinf(v))) {
            g.value = kNaN;  // 3.x: NaN and Inf poison the group
            if (g.count == 1) g.mean = v;
            break;
          }
          if (g.count == 1) {
            g.mean = v;
            g.value = 0;
            break;
          }
          const double delta = v - g.mean;
          g.mean += delta / g.count;
          g.value += delta * (v - g.mean);
          break;
        }
        default:
          break;
      }
    }
    if (op == AggregateOp::kQuantile && !warned && (std::isnan(pv) || pv < 0 || pv > 1) && !order.empty()) {
      Warn(internal::Cat("quantile value should be between 0 and 1, got ", internal::FormatFloatGo(pv)), *a.param);
      warned = true;
    }
    int64_t k_param = 0;
    if ((op == AggregateOp::kTopk || op == AggregateOp::kBottomk || op == AggregateOp::kLimitk) &&
        !order.empty()) {
      if (std::isnan(pv)) return Invalid("Parameter value is NaN");
      if (pv >= 9.2e18) return Invalid(internal::Cat("Scalar value ", internal::FormatFloatGo(pv), " overflows int64"));
      k_param = pv < -9.2e18 ? 0 : static_cast<int64_t>(pv);
    }
    double ratio = 0;
    if (op == AggregateOp::kLimitRatio && !order.empty()) {
      if (std::isnan(pv)) return Invalid("Ratio value is NaN");
      ratio = pv;
      if (ratio < -1 || ratio > 1) {
        const double capped = ratio < -1 ? -1 : 1;
        if (!warned) {
          Warn(internal::Cat("ratio value should be between -1 and 1, got ", internal::FormatFloatGo(ratio),
                            ", capping to ", internal::FormatFloatGo(capped)), *a.param);
          warned = true;
        }
        ratio = capped;
      }
    }
    for (size_t gi : order) {
      Acc& g = acc[gi];
      const model::Labels& gm = groups[gi].metric;
      const size_t out_before = out.size();
      switch (op) {
        case AggregateOp::kSum:
          out.push_back(Sample{gm, ts, compat() ? g.value : g.value + g.c, false});
          break;
        case AggregateOp::kAvg: {
          double v;
          if (compat()) {
            v = g.mean;
          } else if (g.incremental) {
            v = g.mean + g.c;
          } else {
            v = g.value / g.count + g.c / g.count;
          }
          out.push_back(Sample{gm, ts, v, false});
          break;
        }
        case AggregateOp::kCount:
          out.push_back(Sample{gm, ts, g.count, false});
          break;
        case AggregateOp::kGroup:
          out.push_back(Sample{gm, ts, 1, false});
          break;
        case AggregateOp::kMin:
        case AggregateOp::kMax:
          out.push_back(Sample{gm, ts, g.value, false});
          break;
        case AggregateOp::kStdvar:
          out.push_back(Sample{gm, ts, g.value / g.count, false});
          break;
        case AggregateOp::kStddev:
          out.push_back(Sample{gm, ts, std::sqrt(g.value / g.count), false});
          break;
        case AggregateOp::kQuantile: {
          std::vector<double> qv;
          for (size_t k : g.members) qv.push_back(vals[k]);
          out.push_back(Sample{gm, ts, internal::Quantile(pv, qv), false});
          break;
        }
        case AggregateOp::kCountValues: {
          std::vector<std::pair<std::string, double>> counts;
          for (size_t k : g.members) {
            std::string s = internal::FormatFloatGo(vals[k]);
            auto it = std::find_if(counts.begin(), counts.end(), [&](auto& e) { return e.first == s; });
            if (it == counts.end()) {
              counts.emplace_back(std::move(s), 1);
            } else {
              it->second++;
            }
          }
          for (auto& [s, n] : counts) {
            model::LabelsBuilder lb(gm);
            lb.Set(count_label, s);
            out.push_back(Sample{lb.Build(), ts, n, false});
          }
          break;
        }
        case AggregateOp::kTopk:
        case AggregateOp::kBottomk: {
          if (k_param < 1) break;
          const std::vector<size_t> m =
              TopK(g.members, vals, static_cast<size_t>(k_param), op == AggregateOp::kTopk,
                   compat());
          for (size_t k : m) out.push_back(Sample{in[k].metric, ts, vals[k], in[k].drop_name});
          break;
        }
        case AggregateOp::kLimitk: {
          if (k_param < 1) break;
          int64_t n = 0;
          for (size_t k : g.members) {
            if (n++ >= k_param) break;
            out.push_back(Sample{in[k].metric, ts, vals[k], in[k].drop_name});
          }
          break;
        }
        case AggregateOp::kLimitRatio: {
          for (size_t k : g.members) {
            // The series' offset in [0, 1] from Prometheus's labels.Hash, so the same
            // series are picked as upstream (AddRatioSample).
            const double off = static_cast<double>(GoLabelsHash(in[k].metric)) /
                               static_cast<double>(UINT64_MAX);
            const bool keep = ratio >= 0 ? off < ratio : off >= 1 + ratio;
            if (keep) out.push_back(Sample{in[k].metric, ts, vals[k], in[k].drop_name});
          }
          break;
        }
      }
      // Delayed name removal: a group whose members will lose their name loses it too.
      if (g.drop && op != AggregateOp::kTopk && op != AggregateOp::kBottomk &&
          op != AggregateOp::kLimitk && op != AggregateOp::kLimitRatio) {
        for (size_t k = out_before; k < out.size(); ++k) out[k].drop_name = true;
      }
    }
    STRATA_RETURN_IF_ERROR(mb.Add(ts, out));
  }
  Matrix res = mb.Take();
  STRATA_RETURN_IF_ERROR(AddSamples(CountPoints(res)));
  return res;
}

absl::StatusOr<Matrix> Evaluator::Eval(const Expr& e, const Range& r) {
  STRATA_RETURN_IF_ERROR(CheckDeadline());
  const int64_t before = cur_samples;
  absl::StatusOr<Matrix> res;
  switch (e.kind()) {
    case NodeKind::kNumberLiteral:
      res = ScalarMatrix(r, parser::As<parser::NumberLiteral>(e).value);
      break;
    case NodeKind::kDuration: {
      parser::DurationContext ctx{qstep_, qend_ - qstart_};
      auto v = parser::EvalDurationExpr(e, ctx);
      if (!v.ok()) return v.status();
      res = ScalarMatrix(r, *v);
      break;
    }
    case NodeKind::kStringLiteral:
      return Invalid("string literal cannot be evaluated as a vector or scalar");
    case NodeKind::kParen:
      return Eval(*parser::As<parser::ParenExpr>(e).expr, r);
    case NodeKind::kUnary: {
      const auto& u = parser::As<parser::UnaryExpr>(e);
      STRATA_ASSIGN_OR_RETURN(Matrix m, Eval(*u.expr, r));
      if (u.negate) {
        const bool vec = u.expr->type() == parser::ValueType::kVector;
        for (Series& s : m) {
          for (Point& p : s.points) p.v = -p.v;
          if (vec) {
            if (compat()) {
              s.metric = s.metric.WithoutMetricName();
            } else {
              s.drop_name = true;
            }
          }
        }
        if (vec && compat()) {
          std::vector<const model::Labels*> ls;
          for (const auto& s : m) ls.push_back(&s.metric);
          std::sort(ls.begin(), ls.end(), [](auto* a, auto* b) { return *a < *b; });
          for (size_t i = 1; i < ls.size(); ++i) {
            if (*ls[i] == *ls[i - 1]) return Invalid("vector cannot contain metrics with the same labelset");
          }
        }
      }
      res = std::move(m);
      break;
    }
    case NodeKind::kVectorSelector:
      res = EvalVectorSelector(parser::As<VectorSelector>(e), r);
      break;
    case NodeKind::kMatrixSelector:
    case NodeKind::kSubquery:
      if (r.start != r.end) return Invalid("range vectors cannot be evaluated in a range query");
      res = EvalRangeRaw(e, r.start);
      break;
    case NodeKind::kBinary:
      res = EvalBinary(parser::As<BinaryExpr>(e), r);
      break;
    case NodeKind::kAggregate:
      res = EvalAggregate(parser::As<AggregateExpr>(e), r);
      break;
    case NodeKind::kCall:
      res = EvalCall(parser::As<Call>(e), r);
      break;
  }
  if (!res.ok()) return res;
  // Children's data is released once this node is done; what stays is its own result.
  cur_samples = before;
  STRATA_RETURN_IF_ERROR(AddSamples(CountPoints(*res)));
  total_samples -= CountPoints(*res);
  return res;
}

// 3.x: removes __name__ from series flagged by delayed name dropping, then rejects (or, for
// matrices, merges non-overlapping) series that became equal (upstream cleanupMetricLabels).
absl::Status CleanupNames(Matrix& m, bool range) {
  bool any = false;
  for (Series& s : m) {
    if (s.drop_name) {
      // The 3.x type and unit metadata labels go with the name.
      if (s.metric.Has(model::kMetricName) || s.metric.Has("__type__") || s.metric.Has("__unit__")) {
        s.metric = s.metric.Without({model::kMetricName, "__type__", "__unit__"});
      }
      s.drop_name = false;
      any = true;
    }
  }
  if (!any) return absl::OkStatus();
  if (!range) {
    std::vector<const model::Labels*> ls;
    for (const auto& s : m) ls.push_back(&s.metric);
    std::sort(ls.begin(), ls.end(), [](auto* a, auto* b) { return *a < *b; });
    for (size_t i = 1; i < ls.size(); ++i) {
      if (*ls[i] == *ls[i - 1]) return Invalid("vector cannot contain metrics with the same labelset");
    }
    return absl::OkStatus();
  }
  std::stable_sort(m.begin(), m.end(), [](const Series& a, const Series& b) { return a.metric < b.metric; });
  Matrix merged;
  for (Series& s : m) {
    if (!merged.empty() && merged.back().metric == s.metric) {
      Series& t = merged.back();
      std::vector<Point> pts;
      std::merge(t.points.begin(), t.points.end(), s.points.begin(), s.points.end(),
                 std::back_inserter(pts), [](const Point& a, const Point& b) { return a.t < b.t; });
      for (size_t i = 1; i < pts.size(); ++i) {
        if (pts[i].t == pts[i - 1].t) return Invalid("vector cannot contain metrics with the same labelset");
      }
      t.points = std::move(pts);
    } else {
      merged.push_back(std::move(s));
    }
  }
  m = std::move(merged);
  return absl::OkStatus();
}

}  // namespace

struct Engine::Impl {
  EngineOptions opts;
};

Engine::Engine(EngineOptions opts) : impl_(std::make_unique<Impl>()) { impl_->opts = opts; }
Engine::~Engine() = default;
const EngineOptions& Engine::options() const { return impl_->opts; }

namespace {

absl::StatusOr<Result> Run(const EngineOptions& o, storage::Queryable& db, std::string_view query,
                           int64_t start, int64_t end, int64_t step, bool instant) {
  Result res;
  const absl::Time t0 = absl::Now();
  parser::ParseOptions po;
  po.compat_2x = o.compat_2x;
  po.experimental_functions = o.enable_experimental;
  po.duration_expressions = !o.compat_2x && o.enable_experimental;
  po.extended_range_selectors = !o.compat_2x && o.enable_experimental;
  po.binop_fill_modifiers = !o.compat_2x && o.enable_experimental;
  STRATA_ASSIGN_OR_RETURN(parser::ExprPtr expr, parser::ParseExpr(query, po));
  const absl::Time t1 = absl::Now();
  res.stats.parse_time = t1 - t0;
  Evaluator ev(o, db, query, start, end, instant ? 0 : step);
  const Expr* e = expr.get();
  while (e->kind() == NodeKind::kParen) e = parser::As<parser::ParenExpr>(*e).expr.get();
  if (e->type() == parser::ValueType::kString) {
    if (e->kind() != NodeKind::kStringLiteral) return Invalid("unsupported string expression");
    res.type = instant ? ValueType::kString : ValueType::kMatrix;
    // Prometheus rejects this when creating the range query (NewRangeQuery).
    if (!instant) {
      return Invalid(
          "invalid expression type \"string\" for range query, must be Scalar or instant Vector");
    }
    res.string = String{start, parser::As<parser::StringLiteral>(*e).value};
  } else if (instant && (e->type() == parser::ValueType::kMatrix)) {
    STRATA_ASSIGN_OR_RETURN(res.matrix, ev.EvalRangeRaw(*e, start));
    res.type = ValueType::kMatrix;
    std::sort(res.matrix.begin(), res.matrix.end(),
              [](const Series& a, const Series& b) { return a.metric < b.metric; });
  } else {
    if (!instant && e->type() == parser::ValueType::kMatrix) {
      return Invalid(internal::Cat("invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"));
    }
    Range r{start, end, instant ? 1 : step};
    STRATA_ASSIGN_OR_RETURN(Matrix m, ev.Eval(*e, r));
    if (!o.compat_2x) STRATA_RETURN_IF_ERROR(CleanupNames(m, !instant));
    if (e->type() == parser::ValueType::kScalar) {
      if (instant) {
        res.type = ValueType::kScalar;
        res.scalar = Scalar{start, m.empty() || m[0].points.empty() ? kNaN : m[0].points[0].v};
      } else {
        res.type = ValueType::kMatrix;
        res.matrix = std::move(m);
      }
    } else if (instant) {
      res.type = ValueType::kVector;
      for (Series& s : m) {
        if (s.points.empty()) continue;
        res.vector.push_back(Sample{std::move(s.metric), s.points[0].t, s.points[0].v, false});
      }
    } else {
      res.type = ValueType::kMatrix;
      res.matrix = std::move(m);
      std::sort(res.matrix.begin(), res.matrix.end(),
                [](const Series& a, const Series& b) { return a.metric < b.metric; });
    }
  }
  res.stats.prepare_time = ev.prepare_time;
  res.stats.eval_time = absl::Now() - t1 - ev.prepare_time;
  res.stats.total_samples = ev.total_samples;
  res.stats.peak_samples = ev.peak_samples;
  res.warnings = std::move(ev.warnings);
  res.infos = std::move(ev.infos);
  return res;
}

}  // namespace

absl::StatusOr<Result> Engine::InstantQuery(storage::Queryable& db, std::string_view query,
                                            int64_t ts) const {
  return Run(impl_->opts, db, query, ts, ts, 0, true);
}

absl::StatusOr<Result> Engine::RangeQuery(storage::Queryable& db, std::string_view query,
                                          int64_t start, int64_t end, int64_t step) const {
  if (step <= 0) {
    return Invalid("zero or negative query resolution step widths are not accepted. Try a positive integer");
  }
  if (end < start) return Invalid("end timestamp must not be before start time");
  if ((end - start) / step >= impl_->opts.max_points_per_series) {
    return Invalid(
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
        "query resolution (?step=XX)");
  }
  return Run(impl_->opts, db, query, start, end, step, false);
}

}  // namespace strata::promql
