// The PromQL test-script runner (see strata/promql/promqltest.h and
// /work/shared/conformance/README.md for the language).
#include "strata/promql/promqltest.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "strata/base/status.h"
#include "promql/functions.h"
#include "re2/re2.h"
#include "base/status_macros.h"
#include "strata/promql/parser/ast.h"
#include "strata/promql/parser/functions.h"
#include "strata/promql/parser/parser.h"
#include "strata/promql/parser/printer.h"

namespace strata::promql::promqltest {
namespace {

// ---------------------------------------------------------------------------------------
// In-memory storage.

// Iterates samples [b, e); `st`, if not null, holds the start timestamp of *b, *(b+1), ...
class SpanIterator final : public storage::SampleIterator {
 public:
  SpanIterator(const model::Sample* b, const model::Sample* e, const int64_t* st)
      : b_(b), e_(e), cur_(b - 1), st_(st) {}
  bool Next() override {
    if (cur_ < e_) ++cur_;
    return cur_ < e_;
  }
  bool Seek(int64_t t) override {
    if (cur_ < b_) cur_ = b_;
    if (cur_ < e_ && cur_->t >= t) return true;
    cur_ = std::lower_bound(cur_, e_, t, [](const model::Sample& s, int64_t x) { return s.t < x; });
    return cur_ < e_;
  }
  model::Sample At() const override { return *cur_; }
  int64_t AtST() const override {
    return st_ == nullptr ? storage::kNoStartTimestamp : st_[cur_ - b_];
  }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  const model::Sample* b_;
  const model::Sample* e_;
  const model::Sample* cur_;
  const int64_t* st_;
};

class SpanSeries final : public storage::Series {
 public:
  SpanSeries(const model::Labels* l, const model::Sample* b, const model::Sample* e,
             const int64_t* st)
      : l_(l), b_(b), e_(e), st_(st) {}
  const model::Labels& labels() const override { return *l_; }
  std::unique_ptr<storage::SampleIterator> Iterator(
      std::unique_ptr<storage::SampleIterator>) const override {
    return std::make_unique<SpanIterator>(b_, e_, st_);
  }

 private:
  const model::Labels* l_;
  const model::Sample* b_;
  const model::Sample* e_;
  const int64_t* st_;
};

class SpanSeriesSet final : public storage::SeriesSet {
 public:
  explicit SpanSeriesSet(std::vector<SpanSeries> s) : s_(std::move(s)) {}
  bool Next() override { return ++i_ < static_cast<int64_t>(s_.size()); }
  storage::Series& At() override { return s_[static_cast<size_t>(i_)]; }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::vector<SpanSeries> s_;
  int64_t i_ = -1;
};

class MemQuerier final : public storage::Querier {
 public:
  MemQuerier(const std::map<model::Labels, MemStorage::SeriesData>& s, int64_t mint,
             int64_t maxt)
      : s_(s), mint_(mint), maxt_(maxt) {}
  std::unique_ptr<storage::SeriesSet> Select(const std::vector<model::Matcher>& ms,
                                             const storage::SelectHints*) override {
    std::vector<SpanSeries> out;
    for (const auto& [l, data] : s_) {
      if (!model::MatchesAll(ms, l)) continue;
      const auto& samples = data.samples;
      auto lt = [](const model::Sample& a, int64_t t) { return a.t < t; };
      const model::Sample* b = std::lower_bound(samples.data(), samples.data() + samples.size(), mint_, lt);
      const model::Sample* e = std::lower_bound(b, samples.data() + samples.size(),
                                                maxt_ == INT64_MAX ? maxt_ : maxt_ + 1, lt);
      if (b == e) continue;
      const int64_t* st = data.sts.empty() ? nullptr : data.sts.data() + (b - samples.data());
      out.emplace_back(&l, b, e, st);
    }
    return std::make_unique<SpanSeriesSet>(std::move(out));
  }
  absl::StatusOr<std::vector<std::string>> LabelNames(const std::vector<model::Matcher>& ms) override {
    std::vector<std::string> out;
    for (const auto& [l, samples] : s_) {
      if (!model::MatchesAll(ms, l)) continue;
      for (const auto& lb : l) out.emplace_back(lb.name);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  absl::StatusOr<std::vector<std::string>> LabelValues(const std::string& name,
                                                       const std::vector<model::Matcher>& ms) override {
    std::vector<std::string> out;
    for (const auto& [l, samples] : s_) {
      if (!model::MatchesAll(ms, l) || !l.Has(name)) continue;
      out.emplace_back(l.Get(name));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

 private:
  const std::map<model::Labels, MemStorage::SeriesData>& s_;
  int64_t mint_, maxt_;
};

}  // namespace

void MemStorage::Add(const model::Labels& lset, int64_t t, double v, int64_t st) {
  SeriesData& d = series_[lset];
  auto& s = d.samples;
  auto it = std::lower_bound(s.begin(), s.end(), t,
                             [](const model::Sample& a, int64_t x) { return a.t < x; });
  const size_t idx = static_cast<size_t>(it - s.begin());
  // Start timestamps are stored only once some sample has one.
  bool track_st = !d.sts.empty();
  if (st != storage::kNoStartTimestamp && !track_st) {
    d.sts.assign(s.size(), storage::kNoStartTimestamp);
    track_st = true;
  }
  if (it != s.end() && it->t == t) {
    it->v = v;
    if (track_st) d.sts[idx] = st;
  } else {
    s.insert(it, model::Sample{t, v});
    if (track_st) d.sts.insert(d.sts.begin() + static_cast<std::ptrdiff_t>(idx), st);
  }
}

void MemStorage::AddSeries(const model::Labels& lset, const std::vector<model::Sample>& samples,
                           const std::vector<int64_t>& sts) {
  assert(sts.empty() || sts.size() == samples.size());
  SeriesData& d = series_[lset];
  auto& s = d.samples;
  const bool append = s.empty() || samples.empty() || samples.front().t > s.back().t;
  if (append && std::is_sorted(samples.begin(), samples.end(),
                               [](const auto& a, const auto& b) { return a.t < b.t; })) {
    if (!sts.empty() && d.sts.empty()) d.sts.assign(s.size(), storage::kNoStartTimestamp);
    s.insert(s.end(), samples.begin(), samples.end());
    if (!sts.empty()) {
      d.sts.insert(d.sts.end(), sts.begin(), sts.end());
    } else if (!d.sts.empty()) {
      d.sts.resize(s.size(), storage::kNoStartTimestamp);
    }
    return;
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    Add(lset, samples[i].t, samples[i].v, sts.empty() ? storage::kNoStartTimestamp : sts[i]);
  }
}

absl::StatusOr<std::unique_ptr<storage::Querier>> MemStorage::NewQuerier(int64_t mint, int64_t maxt) {
  return std::make_unique<MemQuerier>(series_, mint, maxt);
}

namespace {

// ---------------------------------------------------------------------------------------
// Script model.

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

template <typename M>
absl::Status LineError(std::string_view file, int line, const M& msg) {
  return absl::InvalidArgumentError(internal::Cat(file, ":", line, ": ", msg));
}

struct ExpectedSeries {
  model::Labels labels;
  std::vector<parser::SequenceValue> values;
};

struct AnnoExpect {
  enum class Kind { kAny, kMsg, kRegex };
  Kind kind = Kind::kAny;
  std::string text;
};

struct EvalCmd {
  int line = 0;
  std::string text;
  std::string expr;
  bool range = false;
  int64_t start = 0, end = 0, step = 0;  // range; start is also the instant time
  bool fail = false;
  std::optional<AnnoExpect> fail_expect;
  bool ordered = false;
  std::vector<AnnoExpect> warn, info;
  bool expect_warn = false, expect_info = false, no_warn = false, no_info = false;
  bool expect_range_vector = false;
  int64_t rv_start = 0, rv_end = 0, rv_step = 0;
  std::optional<std::string> expect_string;
  std::optional<double> scalar;
  std::vector<ExpectedSeries> series;
  bool histogram = false;  // expected results contain native histograms
};

// Go's almost-equal with the runner's tolerance (promqltest: epsilon 1e-6).
bool AlmostEqual(double a, double b) {
  constexpr double kMinNormal = 2.2250738585072014e-308;
  constexpr double kEps = 1e-6;
  if (std::isnan(a) || std::isnan(b)) {
    return std::isnan(a) && std::isnan(b) && model::IsStaleNaN(a) == model::IsStaleNaN(b);
  }
  if (a == b) return true;
  const double diff = std::abs(a - b);
  const double sum = std::abs(a) + std::abs(b);
  if (a == 0 || b == 0 || sum < kMinNormal) return diff < kEps * kMinNormal;
  return diff / std::min(sum, std::numeric_limits<double>::max()) < kEps;
}

std::string Fmt(double v) {
  if (model::IsStaleNaN(v)) return "stale";
  return absl::StrFormat("%g", v);
}

bool ParseNumberLine(std::string_view s, double* out) {
  // strconv.ParseInt(s, 0, 64) first, then ParseFloat.
  if (s.empty()) return false;
  return internal::ParseFloatGo(s, out);
}

absl::StatusOr<int64_t> Dur(std::string_view s) {
  bool neg = false;
  if (!s.empty() && s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  STRATA_ASSIGN_OR_RETURN(int64_t d, parser::ParseDuration(s));
  return neg ? -d : d;
}

bool MatchAnno(const AnnoExpect& e, const std::string& got) {
  switch (e.kind) {
    case AnnoExpect::Kind::kAny: return true;
    case AnnoExpect::Kind::kMsg: return e.text == got;
    case AnnoExpect::Kind::kRegex: {
      RE2 re(e.text);
      return re.ok() && RE2::PartialMatch(got, re);
    }
  }
  return false;
}

// Pins `@ ts` on every selector and subquery that has none, not below a subquery
// (upstream atModifierTestCases). Returns false if the expression uses a function whose
// result depends on the evaluation time.
bool PinAt(parser::Expr& e, int64_t ts, bool under_at, bool* unsafe) {
  using parser::NodeKind;
  switch (e.kind()) {
    case NodeKind::kVectorSelector: {
      auto& vs = parser::As<parser::VectorSelector>(e);
      if (!under_at && vs.at.kind == parser::AtModifier::Kind::kNone) {
        vs.at.kind = parser::AtModifier::Kind::kTimestamp;
        vs.at.timestamp_ms = ts;
      }
      return true;
    }
    case NodeKind::kMatrixSelector: {
      auto& ms = parser::As<parser::MatrixSelector>(e);
      PinAt(*ms.vector_selector, ts, under_at, unsafe);
      if (ms.range_expr) PinAt(*ms.range_expr, ts, true, unsafe);
      return true;
    }
    case NodeKind::kSubquery: {
      auto& sq = parser::As<parser::SubqueryExpr>(e);
      if (!under_at && sq.at.kind == parser::AtModifier::Kind::kNone) {
        sq.at.kind = parser::AtModifier::Kind::kTimestamp;
        sq.at.timestamp_ms = ts;
      }
      for (const parser::Expr* c : parser::internal::Children(e)) {
        PinAt(const_cast<parser::Expr&>(*c), ts, true, unsafe);
      }
      return true;
    }
    case NodeKind::kCall: {
      const auto& c = parser::As<parser::Call>(e);
      static const char* kUnsafe[] = {"time", "timestamp", "predict_linear", "days_in_month",
                                      "day_of_month", "day_of_week", "day_of_year", "hour",
                                      "minute", "month", "year", "start", "end", "step", "range"};
      for (const char* n : kUnsafe) {
        if (c.func->name == n) *unsafe = true;
      }
      break;
    }
    case NodeKind::kDuration: {
      const auto& d = parser::As<parser::DurationExpr>(e);
      if (d.op == parser::DurationOp::kStep || d.op == parser::DurationOp::kRange) *unsafe = true;
      break;
    }
    default:
      break;
  }
  for (const parser::Expr* c : parser::internal::Children(e)) {
    PinAt(const_cast<parser::Expr&>(*c), ts, under_at, unsafe);
  }
  return true;
}

bool UsesStartEnd(const parser::Expr& e) {
  bool found = false;
  parser::Walk(e, [&](const parser::Expr& n) {
    if (n.kind() == parser::NodeKind::kCall) {
      const auto& c = parser::As<parser::Call>(n);
      if (c.func->name == "start" || c.func->name == "end" || c.func->name == "step" ||
          c.func->name == "range") {
        found = true;
      }
    }
    if (n.kind() == parser::NodeKind::kDuration) {
      const auto& d = parser::As<parser::DurationExpr>(n);
      if (d.op == parser::DurationOp::kStep || d.op == parser::DurationOp::kRange) found = true;
    }
    if (n.kind() == parser::NodeKind::kVectorSelector) {
      const auto& v = parser::As<parser::VectorSelector>(n);
      if (v.at.kind == parser::AtModifier::Kind::kStart || v.at.kind == parser::AtModifier::Kind::kEnd) found = true;
    }
    if (n.kind() == parser::NodeKind::kSubquery) {
      const auto& v = parser::As<parser::SubqueryExpr>(n);
      if (v.at.kind == parser::AtModifier::Kind::kStart || v.at.kind == parser::AtModifier::Kind::kEnd) found = true;
    }
  });
  return found;
}

// Where a start-timestamp line's `@st` marker begins (the series is before it, the items
// after it), or npos if `l` is an ordinary series line. Quoted label values are skipped.
size_t FindStMarker(std::string_view l) {
  char quote = 0;
  for (size_t k = 0; k < l.size(); ++k) {
    const char c = l[k];
    if (quote != 0) {
      if (c == '\\' && quote != '`') {
        ++k;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      quote = c;
    } else if (c == ' ' || c == '\t') {
      return std::string_view::npos;  // the values have begun
    } else if (l.substr(k, 3) == "@st" &&
               (k + 3 == l.size() || l[k + 3] == ' ' || l[k + 3] == '\t')) {
      return k;
    }
  }
  return std::string_view::npos;
}

// Parses a signed duration (`-30s`, `+1m`, `1ms`, `0`) at the front of `s` and consumes it.
absl::StatusOr<int64_t> ConsumeSignedDuration(std::string_view& s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  size_t n = 0;
  // Digits and the unit letters y w d h m s; 'x' (the repetition) is not among them.
  while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) ||
                          std::string_view("ywdhms").find(s[n]) != std::string_view::npos)) {
    ++n;
  }
  STRATA_ASSIGN_OR_RETURN(int64_t d, parser::ParseDuration(s.substr(0, n)));
  s.remove_prefix(n);
  return neg ? -d : d;
}

// Parses the items of a start-timestamp line into one offset per position (nullopt for
// none): `_`, `_xN` (N positions), `<d>`, `<d>xN` (N+1 copies), `<d>+<d2>xN` and
// `<d>-<d2>xN` (N+1 positions stepping by d2). Returns InvalidArgument naming the item.
absl::StatusOr<std::vector<std::optional<int64_t>>> ParseStItems(std::string_view items) {
  std::vector<std::optional<int64_t>> out;
  for (absl::string_view piece : absl::StrSplit(base::ToAbsl(items), absl::ByAnyChar(" \t"),
                                                absl::SkipEmpty())) {
    std::string_view item = base::ToStd(piece);
    const std::string_view whole = item;
    auto bad = [&](const auto& why) {
      return absl::InvalidArgumentError(
          internal::Cat("bad start timestamp item \"", whole, "\": ", why));
    };
    auto count = [&](std::string_view digits) -> absl::StatusOr<uint64_t> {
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec != std::errc() || p != digits.data() + digits.size() || digits.empty()) {
        return bad("repetition count is not a number");
      }
      if (n > 10'000'000) return bad("repetition count too large");
      return n;
    };
    if (item[0] == '_') {
      if (item.size() == 1) {
        out.emplace_back();
        continue;
      }
      if (item[1] != 'x') return bad("expected _xN");
      STRATA_ASSIGN_OR_RETURN(uint64_t n, count(item.substr(2)));
      out.insert(out.end(), n, std::nullopt);
      continue;
    }
    auto first = ConsumeSignedDuration(item);
    if (!first.ok()) return bad(first.status().message());
    int64_t step = 0;
    if (!item.empty() && (item[0] == '+' || item[0] == '-')) {
      auto d = ConsumeSignedDuration(item);
      if (!d.ok()) return bad(d.status().message());
      step = *d;
      if (item.empty() || item[0] != 'x') return bad("a stepped item needs xN");
    }
    uint64_t n = 0;
    if (!item.empty()) {
      if (item[0] != 'x') return bad("unexpected characters");
      STRATA_ASSIGN_OR_RETURN(n, count(item.substr(1)));
    }
    for (uint64_t k = 0; k <= n; ++k) {
      int64_t off = 0;
      if (__builtin_mul_overflow(static_cast<int64_t>(k), step, &off) ||
          __builtin_add_overflow(off, *first, &off)) {
        return bad("offset overflows");
      }
      out.emplace_back(off);
    }
  }
  return out;
}

class Runner {
 public:
  Runner(std::string_view name, const Options& opts) : name_(name), opts_(opts) {
    EngineOptions eo;
    eo.compat_2x = opts.compat_2x;
    eo.max_samples = 10000;
    eo.lookback_delta_ms = 5 * 60 * 1000;
    eo.default_subquery_step_ms = 60 * 1000;
    engine_ = std::make_unique<Engine>(eo);
  }

  absl::StatusOr<FileResult> Run(std::string_view content);

 private:
  absl::Status Load(const std::vector<std::pair<int, std::string_view>>& lines, size_t& i,
                    int64_t interval, bool nhcb);
  absl::StatusOr<EvalCmd> ParseEval(const std::vector<std::pair<int, std::string_view>>& lines,
                                    size_t& i);
  std::string Exec(const EvalCmd& cmd);
  std::string RunInstant(const EvalCmd& cmd, const std::string& expr, int64_t ts, bool range_check);
  std::string CheckResult(const EvalCmd& cmd, const Result& res, bool instant);
  std::string CheckAnnotations(const EvalCmd& cmd, const Result& res);
  std::string CheckFailure(const EvalCmd& cmd, const absl::Status& st);
  std::string CompareVector(const EvalCmd& cmd, const Vector& v);
  std::string CompareMatrix(const EvalCmd& cmd, const Matrix& m, int64_t start, int64_t end,
                            int64_t step);

  std::string name_;
  Options opts_;
  std::unique_ptr<Engine> engine_;
  MemStorage storage_;
  bool nh_data_ = false;
};

absl::Status Runner::Load(const std::vector<std::pair<int, std::string_view>>& lines, size_t& i,
                          int64_t interval, bool nhcb) {
  if (nhcb) nh_data_ = true;
  struct Loaded {
    std::vector<model::Sample> samples;
    std::vector<int64_t> sts;  // empty, or parallel to samples
  };
  std::map<model::Labels, Loaded> block;
  // A start-timestamp line waiting for its series' sample line: the series, the line, and
  // per position the offset to add to the sample's timestamp (nullopt: no start).
  std::optional<model::Labels> st_labels;
  int st_line = 0;
  std::vector<std::optional<int64_t>> st_offsets;
  for (; i < lines.size() && !lines[i].second.empty(); ++i) {
    std::string_view l = lines[i].second;
    const size_t at = FindStMarker(l);
    if (at != std::string_view::npos) {
      if (st_labels) {
        return LineError(name_, st_line, "start timestamps line is not followed by its series");
      }
      auto desc = parser::ParseSeriesDesc(l.substr(0, at));
      if (!desc.ok()) return LineError(name_, lines[i].first, desc.status().message());
      if (!desc->values.empty()) {
        return LineError(name_, lines[i].first, "unexpected values before @st");
      }
      auto offsets = ParseStItems(l.substr(at + 3));
      if (!offsets.ok()) return LineError(name_, lines[i].first, offsets.status().message());
      st_labels = std::move(desc->labels);
      st_line = lines[i].first;
      st_offsets = std::move(*offsets);
      continue;
    }
    auto desc = parser::ParseSeriesDesc(l);
    if (!desc.ok()) return LineError(name_, lines[i].first, desc.status().message());
    if (st_labels) {
      if (*st_labels != desc->labels) {
        return LineError(name_, st_line,
                         internal::Cat("start timestamps of ", st_labels->ToString(),
                                       " are followed by series ", desc->labels.ToString()));
      }
      if (st_offsets.size() != desc->values.size()) {
        return LineError(name_, lines[i].first,
                         internal::Cat("series has ", desc->values.size(),
                                       " positions but its start timestamps line has ",
                                       st_offsets.size()));
      }
    }
    Loaded loaded;
    for (size_t k = 0; k < desc->values.size(); ++k) {
      const auto& sv = desc->values[k];
      if (sv.omitted) continue;
      if (sv.histogram) {
        nh_data_ = true;
        continue;
      }
      const int64_t t = static_cast<int64_t>(k) * interval;
      loaded.samples.push_back(model::Sample{t, sv.value});
      if (st_labels) {
        int64_t st = storage::kNoStartTimestamp;
        if (st_offsets[k] && __builtin_add_overflow(t, *st_offsets[k], &st)) {
          return LineError(name_, st_line, "start timestamp overflows");
        }
        loaded.sts.push_back(st);
      }
    }
    st_labels.reset();
    block[desc->labels] = std::move(loaded);
  }
  if (st_labels) {
    return LineError(name_, st_line, "start timestamps line is not followed by its series");
  }
  for (const auto& [l, s] : block) storage_.AddSeries(l, s.samples, s.sts);
  return absl::OkStatus();
}

absl::StatusOr<EvalCmd> Runner::ParseEval(const std::vector<std::pair<int, std::string_view>>& lines,
                                          size_t& i) {
  EvalCmd cmd;
  cmd.line = lines[i].first;
  cmd.text = std::string(lines[i].second);
  std::string_view l = lines[i].second;
  const size_t sp = l.find_first_of(" \t");
  const std::string word = Lower(l.substr(0, sp));
  std::string_view rest = sp == std::string_view::npos ? "" : Trim(l.substr(sp));
  if (word == "eval_fail") cmd.fail = true;
  if (word == "eval_ordered") cmd.ordered = true;
  if (word == "eval_warn") cmd.expect_warn = true;
  if (word == "eval_info") cmd.expect_info = true;
  auto next_word = [&](std::string_view& s) {
    s = Trim(s);
    const size_t p = s.find_first_of(" \t");
    std::string_view w = s.substr(0, p);
    s = p == std::string_view::npos ? std::string_view() : s.substr(p);
    return w;
  };
  const std::string_view kind = next_word(rest);
  if (kind == "instant") {
    if (next_word(rest) != "at") return LineError(name_, cmd.line, "expected 'at'");
    STRATA_ASSIGN_OR_RETURN(cmd.start, Dur(next_word(rest)));
    cmd.end = cmd.start;
  } else if (kind == "range") {
    cmd.range = true;
    if (next_word(rest) != "from") return LineError(name_, cmd.line, "expected 'from'");
    STRATA_ASSIGN_OR_RETURN(cmd.start, Dur(next_word(rest)));
    if (next_word(rest) != "to") return LineError(name_, cmd.line, "expected 'to'");
    STRATA_ASSIGN_OR_RETURN(cmd.end, Dur(next_word(rest)));
    if (next_word(rest) != "step") return LineError(name_, cmd.line, "expected 'step'");
    STRATA_ASSIGN_OR_RETURN(cmd.step, Dur(next_word(rest)));
    if (cmd.end < cmd.start) return LineError(name_, cmd.line, "end timestamp must not be before start");
  } else {
    return LineError(name_, cmd.line, internal::Cat("invalid eval command: ", l));
  }
  cmd.expr = std::string(Trim(rest));
  ++i;
  auto parse_anno = [&](std::string_view s, AnnoExpect* e) {
    s = Trim(s);
    if (s.substr(0, 4) == "msg:") {
      e->kind = AnnoExpect::Kind::kMsg;
      e->text = std::string(Trim(s.substr(4)));
    } else if (s.substr(0, 6) == "regex:") {
      e->kind = AnnoExpect::Kind::kRegex;
      e->text = std::string(Trim(s.substr(6)));
    }
  };
  for (; i < lines.size() && !lines[i].second.empty(); ++i) {
    std::string_view b = lines[i].second;
    if (b.substr(0, 7) == "expect ") {
      std::string_view e = Trim(b.substr(7));
      if (e.substr(0, 4) == "fail") {
        cmd.fail = true;
        AnnoExpect a;
        parse_anno(e.substr(4), &a);
        cmd.fail_expect = a;
      } else if (e.substr(0, 7) == "no_warn") {
        cmd.no_warn = true;
      } else if (e.substr(0, 7) == "no_info") {
        cmd.no_info = true;
      } else if (e.substr(0, 4) == "warn") {
        AnnoExpect a;
        parse_anno(e.substr(4), &a);
        cmd.warn.push_back(a);
        cmd.expect_warn = true;
      } else if (e.substr(0, 4) == "info") {
        AnnoExpect a;
        parse_anno(e.substr(4), &a);
        cmd.info.push_back(a);
        cmd.expect_info = true;
      } else if (e.substr(0, 7) == "ordered") {
        cmd.ordered = true;
      } else if (e.substr(0, 12) == "range vector") {
        std::string_view r = e.substr(12);
        cmd.expect_range_vector = true;
        if (next_word(r) != "from") return LineError(name_, lines[i].first, "expected 'from'");
        STRATA_ASSIGN_OR_RETURN(cmd.rv_start, Dur(next_word(r)));
        if (next_word(r) != "to") return LineError(name_, lines[i].first, "expected 'to'");
        STRATA_ASSIGN_OR_RETURN(cmd.rv_end, Dur(next_word(r)));
        if (next_word(r) != "step") return LineError(name_, lines[i].first, "expected 'step'");
        STRATA_ASSIGN_OR_RETURN(cmd.rv_step, Dur(next_word(r)));
      } else if (e.substr(0, 6) == "string") {
        std::string_view s = Trim(e.substr(6));
        if (s.size() < 2) return LineError(name_, lines[i].first, "bad expected string");
        auto q = parser::ParseExpr(s);
        if (!q.ok() || (*q)->kind() != parser::NodeKind::kStringLiteral) {
          return LineError(name_, lines[i].first, "bad expected string");
        }
        cmd.expect_string = parser::As<parser::StringLiteral>(**q).value;
      } else {
        return LineError(name_, lines[i].first, internal::Cat("unknown expect line: ", b));
      }
      continue;
    }
    if (b.substr(0, 21) == "expected_fail_message") {
      cmd.fail_expect = AnnoExpect{AnnoExpect::Kind::kMsg, std::string(Trim(b.substr(21)))};
      continue;
    }
    if (b.substr(0, 20) == "expected_fail_regexp") {
      cmd.fail_expect = AnnoExpect{AnnoExpect::Kind::kRegex, std::string(Trim(b.substr(20)))};
      continue;
    }
    double num;
    if (ParseNumberLine(b, &num)) {
      cmd.scalar = num;
      continue;
    }
    if (b.find("{{") != std::string_view::npos) {
      cmd.histogram = true;
      continue;
    }
    auto desc = parser::ParseSeriesDesc(b);
    if (!desc.ok()) return LineError(name_, lines[i].first, desc.status().message());
    cmd.series.push_back(ExpectedSeries{desc->labels, desc->values});
  }
  return cmd;
}

std::string Runner::CheckFailure(const EvalCmd& cmd, const absl::Status& st) {
  if (!cmd.fail_expect) return "";
  const std::string msg(st.message());
  if (!MatchAnno(*cmd.fail_expect, msg)) {
    return internal::Cat("expected error ", cmd.fail_expect->kind == AnnoExpect::Kind::kRegex ? "matching " : "",
                        "\"", cmd.fail_expect->text, "\", got \"", msg, "\"");
  }
  return "";
}

std::string Runner::CheckAnnotations(const EvalCmd& cmd, const Result& res) {
  auto check = [&](const char* kind, bool expect, bool none, const std::vector<AnnoExpect>& exps,
                   const std::vector<std::string>& got) -> std::string {
    if (none && !got.empty()) {
      return internal::Cat("unexpected ", kind, " annotations: ", absl::StrJoin(got, "; "));
    }
    if (!expect) return "";
    if (got.empty()) return internal::Cat("expected ", kind, " annotations but got none");
    for (const auto& e : exps) {
      bool ok = false;
      for (const auto& g : got) ok = ok || MatchAnno(e, g);
      if (!ok) {
        return internal::Cat("expected ", kind, " annotation \"", e.text, "\" but got: ",
                            absl::StrJoin(got, "; "));
      }
    }
    for (const auto& g : got) {
      bool ok = exps.empty();
      for (const auto& e : exps) ok = ok || MatchAnno(e, g);
      if (!ok) return internal::Cat("unexpected ", kind, " annotation: ", g);
    }
    return "";
  };
  std::string m = check("warn", cmd.expect_warn, cmd.no_warn, cmd.warn, res.warnings);
  if (!m.empty()) return m;
  return check("info", cmd.expect_info, cmd.no_info, cmd.info, res.infos);
}

std::string Runner::CompareVector(const EvalCmd& cmd, const Vector& v) {
  if (cmd.scalar) return internal::Cat("expected scalar ", Fmt(*cmd.scalar), ", got a vector");
  std::vector<const ExpectedSeries*> exp;
  for (const auto& e : cmd.series) exp.push_back(&e);
  if (v.size() != exp.size()) {
    std::string got;
    for (const auto& s : v) got += internal::Cat("\n    ", s.metric.ToString(), " ", Fmt(s.v));
    std::string want;
    for (const auto* e : exp) want += internal::Cat("\n    ", e->labels.ToString());
    return internal::Cat("expected ", exp.size(), " series, got ", v.size(), "\n  want:", want,
                        "\n  got:", got);
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const ExpectedSeries* match = nullptr;
    size_t idx = 0;
    for (size_t k = 0; k < exp.size(); ++k) {
      if (exp[k]->labels == v[i].metric) {
        match = exp[k];
        idx = k;
      }
    }
    if (!match) return internal::Cat("unexpected series ", v[i].metric.ToString(), " ", Fmt(v[i].v));
    if (cmd.ordered && idx != i) {
      return internal::Cat("expected ", match->labels.ToString(), " at position ", idx,
                          ", got it at position ", i);
    }
    std::vector<double> vals;
    for (const auto& sv : match->values) {
      if (!sv.omitted) vals.push_back(sv.value);
    }
    if (vals.size() != 1) return internal::Cat("expected series ", match->labels.ToString(), " must have one value");
    if (!AlmostEqual(vals[0], v[i].v)) {
      return internal::Cat("expected ", Fmt(vals[0]), " for ", match->labels.ToString(), ", got ",
                          Fmt(v[i].v));
    }
  }
  return "";
}

std::string Runner::CompareMatrix(const EvalCmd& cmd, const Matrix& m, int64_t start,
                                  int64_t end, int64_t step) {
  (void)end;
  if (cmd.scalar) return "expected a scalar, got a matrix";
  for (size_t i = 1; i < m.size(); ++i) {
    if (!(m[i - 1].metric < m[i].metric)) return "matrix result is not sorted by labels";
  }
  if (m.size() != cmd.series.size()) {
    std::string got;
    for (const auto& s : m) {
      got += internal::Cat("\n    ", s.metric.ToString());
      for (const auto& p : s.points) got += internal::Cat(" ", Fmt(p.v), "@", p.t);
    }
    return internal::Cat("expected ", cmd.series.size(), " series, got ", m.size(), got);
  }
  for (const Series& s : m) {
    const ExpectedSeries* match = nullptr;
    for (const auto& e : cmd.series) {
      if (e.labels == s.metric) match = &e;
    }
    if (!match) return internal::Cat("unexpected series ", s.metric.ToString());
    std::vector<Point> want;
    for (size_t k = 0; k < match->values.size(); ++k) {
      if (match->values[k].omitted) continue;
      want.push_back(Point{start + static_cast<int64_t>(k) * step, match->values[k].value});
    }
    std::string wants, gots;
    for (const auto& p : want) wants += internal::Cat(" ", Fmt(p.v), "@", p.t);
    for (const auto& p : s.points) gots += internal::Cat(" ", Fmt(p.v), "@", p.t);
    if (want.size() != s.points.size()) {
      return internal::Cat("series ", s.metric.ToString(), ": expected", wants, "; got", gots);
    }
    for (size_t k = 0; k < want.size(); ++k) {
      if (want[k].t != s.points[k].t || !AlmostEqual(want[k].v, s.points[k].v)) {
        return internal::Cat("series ", s.metric.ToString(), ": expected", wants, "; got", gots);
      }
    }
  }
  return "";
}

std::string Runner::CheckResult(const EvalCmd& cmd, const Result& res, bool instant) {
  switch (res.type) {
    case ValueType::kScalar:
      if (!cmd.scalar) return internal::Cat("expected a vector, got scalar ", Fmt(res.scalar.v));
      if (!AlmostEqual(*cmd.scalar, res.scalar.v)) {
        return internal::Cat("expected scalar ", Fmt(*cmd.scalar), ", got ", Fmt(res.scalar.v));
      }
      return "";
    case ValueType::kString:
      if (!cmd.expect_string) return "unexpected string result";
      if (*cmd.expect_string != res.string.v) {
        return internal::Cat("expected string \"", *cmd.expect_string, "\", got \"", res.string.v, "\"");
      }
      return "";
    case ValueType::kVector:
      if (cmd.expect_string) return "expected a string, got a vector";
      return CompareVector(cmd, res.vector);
    case ValueType::kMatrix:
      if (instant) {
        if (!cmd.expect_range_vector) return "unexpected range vector result";
        return CompareMatrix(cmd, res.matrix, cmd.rv_start, cmd.rv_end, cmd.rv_step);
      }
      return CompareMatrix(cmd, res.matrix, cmd.start, cmd.end, cmd.step);
    case ValueType::kNone:
      break;
  }
  return "no result";
}

std::string Runner::RunInstant(const EvalCmd& cmd, const std::string& expr, int64_t ts,
                               bool range_check) {
  auto res = engine_->InstantQuery(storage_, expr, ts);
  if (!res.ok()) {
    if (cmd.fail) return CheckFailure(cmd, res.status());
    return internal::Cat("query ", expr, " at ", ts, "ms failed: ", res.status().message());
  }
  if (cmd.fail) return internal::Cat("expected query ", expr, " at ", ts, "ms to fail, but it succeeded");
  std::string m = CheckAnnotations(cmd, *res);
  if (!m.empty()) return internal::Cat(expr, " at ", ts, "ms: ", m);
  m = CheckResult(cmd, *res, true);
  if (!m.empty()) return internal::Cat(expr, " at ", ts, "ms: ", m);
  if (!range_check || cmd.ordered) return "";
  auto rr = engine_->RangeQuery(storage_, expr, ts - 60000, ts + 60000, 60000);
  if (!rr.ok()) {
    return internal::Cat("query ", expr, " in range mode around ", ts, "ms failed: ", rr.status().message());
  }
  for (size_t i = 1; i < rr->matrix.size(); ++i) {
    if (!(rr->matrix[i - 1].metric < rr->matrix[i].metric)) return "range-mode matrix not sorted";
  }
  Vector v;
  for (const Series& s : rr->matrix) {
    for (const Point& p : s.points) {
      if (p.t == ts) {
        v.push_back(Sample{s.metric, p.t, p.v, false});
        break;
      }
    }
  }
  if (res->type == ValueType::kScalar) {
    Result r2;
    r2.type = ValueType::kScalar;
    r2.scalar.v = v.empty() ? std::nan("") : v[0].v;
    m = CheckResult(cmd, r2, true);
  } else {
    m = CompareVector(cmd, v);
  }
  if (!m.empty()) return internal::Cat(expr, " in range mode at ", ts, "ms: ", m);
  return "";
}

std::string Runner::Exec(const EvalCmd& cmd) {
  parser::ParseOptions po;
  po.compat_2x = opts_.compat_2x;
  auto parsed = parser::ParseExpr(cmd.expr, po);
  if (!parsed.ok()) {
    if (cmd.fail) return CheckFailure(cmd, parsed.status());
    return internal::Cat("parse error: ", parsed.status().message());
  }
  if (cmd.range) {
    auto res = engine_->RangeQuery(storage_, cmd.expr, cmd.start, cmd.end, cmd.step);
    if (!res.ok()) {
      if (cmd.fail) return CheckFailure(cmd, res.status());
      return internal::Cat("query failed: ", res.status().message());
    }
    if (cmd.fail) return "expected the query to fail, but it succeeded";
    std::string m = CheckAnnotations(cmd, *res);
    if (!m.empty()) return m;
    return CheckResult(cmd, *res, false);
  }
  // Instant: the @-pinned variants (upstream atModifierTestCases).
  const int64_t ts = cmd.start;
  bool unsafe = false;
  parser::ExprPtr pinned = parser::Clone(**parsed);
  PinAt(*pinned, ts, false, &unsafe);
  const bool range_check = !cmd.fail && !cmd.expect_string && !cmd.expect_range_vector &&
                           !UsesStartEnd(**parsed);
  if (unsafe) return RunInstant(cmd, cmd.expr, ts, range_check);
  const std::string pinned_expr = parser::Print(*pinned);
  std::vector<int64_t> times = {-10 * ts, 0, ts / 5, ts, 10 * ts};
  if (ts == 0) times = {-1000, 0, 1000};
  for (int64_t t : times) {
    std::string m = RunInstant(cmd, pinned_expr, t, range_check);
    if (!m.empty()) return m;
  }
  return "";
}

absl::StatusOr<FileResult> Runner::Run(std::string_view content) {
  FileResult fr;
  fr.name = name_;
  std::vector<std::pair<int, std::string_view>> lines;
  int n = 0;
  for (size_t pos = 0; pos <= content.size();) {
    size_t e = content.find('\n', pos);
    if (e == std::string_view::npos) e = content.size();
    std::string_view l = content.substr(pos, e - pos);
    pos = e + 1;
    ++n;
    std::string_view t = Trim(l);
    if (!t.empty() && t[0] == '#') t = "";
    lines.emplace_back(n, t);
  }
  for (size_t i = 0; i < lines.size();) {
    std::string_view l = lines[i].second;
    if (l.empty()) {
      ++i;
      continue;
    }
    const size_t sp = l.find_first_of(" \t");
    const std::string word = Lower(l.substr(0, sp));
    if (word == "clear") {
      storage_.Clear();
      nh_data_ = false;
      ++i;
    } else if (word.rfind("load", 0) == 0) {
      const std::string_view arg = sp == std::string_view::npos ? "" : Trim(l.substr(sp));
      auto interval = parser::ParseDuration(arg);
      if (!interval.ok()) return LineError(name_, lines[i].first, interval.status().message());
      ++i;
      STRATA_RETURN_IF_ERROR(Load(lines, i, *interval, word == "load_with_nhcb"));
    } else if (word.rfind("eval", 0) == 0) {
      STRATA_ASSIGN_OR_RETURN(EvalCmd cmd, ParseEval(lines, i));
      EvalResult er;
      er.line = cmd.line;
      er.command = cmd.text;
      if (cmd.histogram || nh_data_) {
        er.outcome = EvalResult::Outcome::kSkipped;
        fr.skipped++;
      } else {
        er.message = Exec(cmd);
        if (er.message.empty()) {
          fr.passed++;
        } else {
          er.outcome = EvalResult::Outcome::kFailed;
          fr.failed++;
        }
      }
      fr.evals.push_back(std::move(er));
    } else {
      return LineError(name_, lines[i].first, internal::Cat("invalid command \"", l, "\""));
    }
  }
  return fr;
}

}  // namespace

absl::StatusOr<FileResult> RunTestScript(std::string_view content, std::string_view name,
                                         const Options& opts) {
  Runner r(name, opts);
  return r.Run(content);
}

absl::StatusOr<FileResult> RunTestFile(const std::string& path, const Options& opts) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(internal::Cat("cannot open ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return absl::UnavailableError(internal::Cat("cannot read ", path));
  return RunTestScript(ss.str(), path, opts);
}

}  // namespace strata::promql::promqltest
