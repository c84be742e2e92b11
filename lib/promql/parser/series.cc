// Series descriptions of the PromQL test-script language: `metric{a="b"} 1+2x3 _ stale`.
// Grammar as the series_description rules of upstream's generated_parser.y; the values are
// expanded exactly as upstream (repeated float64 addition, N+1 copies for xN).
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "promql/parser/lexer.h"
#include "strata/base/status.h"
#include "strata/model/labels.h"
#include "strata/model/sample.h"
#include "strata/promql/parser/parser.h"

namespace strata::promql::parser {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

class SeriesParser {
 public:
  SeriesParser(std::string_view in, size_t max_values) : in_(in), max_values_(max_values) {}

  absl::StatusOr<SeriesDesc> Run() {
    SeriesDesc out;
    SkipSpace();
    if (!ParseMetric(&out.labels)) return status_;
    while (true) {
      const size_t before = pos_;
      SkipSpace();
      if (pos_ >= in_.size()) break;
      if (pos_ == before) return Error("unexpected character in series values");
      if (!ParseItem(&out.values)) return status_;
    }
    return out;
  }

 private:
  absl::Status Error(std::string_view msg) {
    ErrorAt(pos_, msg);
    return status_;
  }
  void ErrorAt(size_t pos, std::string_view msg) {
    int line = 1;
    size_t last = static_cast<size_t>(-1);
    for (size_t i = 0; i < pos && i < in_.size(); ++i) {
      if (in_[i] == '\n') {
        ++line;
        last = i;
      }
    }
    status_ = absl::InvalidArgumentError(
        absl::StrCat(line, ":", pos - last, ": parse error: ", base::ToAbsl(msg)));
  }
  bool Fail(std::string_view msg) {
    ErrorAt(pos_, msg);
    return false;
  }

  char Peek(size_t k = 0) const { return pos_ + k < in_.size() ? in_[pos_ + k] : '\0'; }
  void SkipSpace() {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t')) ++pos_;
  }

  bool ParseQuoted(std::string* out) {
    const char q = Peek();
    const size_t start = pos_;
    ++pos_;
    while (pos_ < in_.size() && in_[pos_] != q) {
      if (in_[pos_] == '\\' && q != '`') ++pos_;
      ++pos_;
    }
    if (pos_ >= in_.size()) return Fail("unterminated quoted string");
    ++pos_;
    std::string err;
    if (!UnquoteString(in_.substr(start, pos_ - start), out, &err)) {
      ErrorAt(start, absl::StrCat("error unquoting string: ", err));
      return false;
    }
    return true;
  }

  std::string_view Ident(bool allow_colon) {
    const size_t start = pos_;
    while (pos_ < in_.size() &&
           (IsAlpha(in_[pos_]) || IsDigit(in_[pos_]) || (allow_colon && in_[pos_] == ':'))) {
      ++pos_;
    }
    return in_.substr(start, pos_ - start);
  }

  bool ParseMetric(model::Labels* labels) {
    std::vector<std::pair<std::string, std::string>> pairs;
    std::string name;
    if (IsAlpha(Peek()) || Peek() == ':') name = std::string(Ident(true));
    if (Peek() == '{') {
      ++pos_;
      while (true) {
        SkipSpace();
        if (Peek() == '}') {
          ++pos_;
          break;
        }
        std::string label;
        bool quoted = false;
        if (IsAlpha(Peek())) {
          label = std::string(Ident(false));
        } else if (Peek() == '"' || Peek() == '\'' || Peek() == '`') {
          if (!ParseQuoted(&label)) return false;
          quoted = true;
        } else {
          return Fail("unexpected character in label set, expected identifier or \"}\"");
        }
        SkipSpace();
        if (quoted && (Peek() == ',' || Peek() == '}')) {
          pairs.emplace_back(std::string(model::kMetricName), std::move(label));
        } else {
          if (Peek() != '=') return Fail("unexpected character in label set, expected \"=\"");
          ++pos_;
          SkipSpace();
          if (Peek() != '"' && Peek() != '\'' && Peek() != '`') {
            return Fail("unexpected character in label set, expected string");
          }
          std::string value;
          if (!ParseQuoted(&value)) return false;
          pairs.emplace_back(std::move(label), std::move(value));
        }
        SkipSpace();
        if (Peek() == ',') {
          ++pos_;
        } else if (Peek() != '}') {
          return Fail("unexpected character in label set, expected \",\" or \"}\"");
        }
      }
    }
    if (!name.empty()) pairs.emplace_back(std::string(model::kMetricName), std::move(name));
    std::vector<std::pair<std::string_view, std::string_view>> views(pairs.begin(), pairs.end());
    *labels = model::Labels::FromPairs(std::move(views));
    return true;
  }

  // A number as upstream's series lexer reads it: decimal (no hex), Inf/NaN, or a duration
  // (its value in seconds). No sign; the caller handles that.
  bool ParseUnsigned(double* v) {
    const size_t start = pos_;
    if (IsAlpha(Peek())) {
      const std::string word = absl::AsciiStrToLower(base::ToAbsl(Ident(false)));
      if (word == "inf") {
        *v = HUGE_VAL;
        return true;
      }
      if (word == "nan") {
        *v = std::nan("");
        return true;
      }
      pos_ = start;
      return Fail("unexpected identifier in series values, expected number or \"stale\"");
    }
    while (IsDigit(Peek()) || Peek() == '_') ++pos_;
    if (Peek() == '.') {
      ++pos_;
      while (IsDigit(Peek())) ++pos_;
    }
    if ((Peek() == 'e' || Peek() == 'E') &&
        (IsDigit(Peek(1)) || ((Peek(1) == '+' || Peek(1) == '-') && IsDigit(Peek(2))))) {
      pos_ += 2;
      while (IsDigit(Peek())) ++pos_;
    }
    if (pos_ == start) return Fail("unexpected character in series values, expected number");
    // A unit right after the digits makes it a duration (`5m`), but `x` is the repetition.
    if (std::string_view("smhdwy").find(Peek()) != std::string_view::npos && Peek() != '\0') {
      while (IsDigit(Peek()) || std::string_view("smhdwy").find(Peek()) != std::string_view::npos) {
        if (Peek() == '\0') break;
        ++pos_;
      }
      auto d = ParseDuration(in_.substr(start, pos_ - start));
      if (!d.ok()) {
        ErrorAt(start, base::ToStd(d.status().message()));
        return false;
      }
      *v = static_cast<double>(*d) / 1000.0;
      return true;
    }
    if (!ParseNumber(in_.substr(start, pos_ - start), v)) {
      ErrorAt(start, absl::StrCat("error parsing number: ",
                                  base::ToAbsl(in_.substr(start, pos_ - start))));
      return false;
    }
    return true;
  }

  bool ParseSigned(double* v) {
    bool neg = false;
    if (Peek() == '+' || Peek() == '-') {
      neg = Peek() == '-';
      ++pos_;
    }
    if (!ParseUnsigned(v)) return false;
    if (neg) *v = -*v;
    return true;
  }

  bool ParseUint(uint64_t* n) {
    const size_t start = pos_;
    while (IsDigit(Peek())) ++pos_;
    auto [p, ec] = std::from_chars(in_.data() + start, in_.data() + pos_, *n);
    if (pos_ == start || ec != std::errc()) {
      return Fail("invalid repetition in series values");
    }
    return true;
  }

  bool Room(const std::vector<SequenceValue>& out, uint64_t more) {
    if (more > max_values_ || out.size() > max_values_ - more) {
      return Fail(absl::StrCat("series expands to more than ", max_values_, " values"));
    }
    return true;
  }

  bool ItemEnd() {
    if (pos_ < in_.size() && in_[pos_] != ' ' && in_[pos_] != '\t') {
      return Fail("unexpected character after series value");
    }
    return true;
  }

  bool ParseItem(std::vector<SequenceValue>* out) {
    if (Peek() == '_' && (Peek(1) == 'x' || (!IsAlpha(Peek(1)) && !IsDigit(Peek(1))))) {
      ++pos_;
      uint64_t n = 1;
      if (Peek() == 'x') {
        ++pos_;
        if (!ParseUint(&n)) return false;  // `_xN` is N omitted positions (not N+1)
      }
      if (!Room(*out, n)) return false;
      out->insert(out->end(), n, SequenceValue{.omitted = true});
      return ItemEnd();
    }
    if (Peek() == '{' && Peek(1) == '{') return ParseHistogramItem(out);
    if (in_.substr(pos_, 5) == "stale" && !IsAlpha(Peek(5)) && !IsDigit(Peek(5))) {
      pos_ += 5;
      if (!Room(*out, 1)) return false;
      out->push_back(SequenceValue{.value = model::kStaleNaN});
      return ItemEnd();
    }
    double v = 0;
    if (!ParseSigned(&v)) return false;
    if (Peek() == 'x') {
      ++pos_;
      uint64_t n = 0;
      if (!ParseUint(&n)) return false;
      if (n == UINT64_MAX || !Room(*out, n + 1)) return false;
      out->insert(out->end(), n + 1, SequenceValue{.value = v});
      return ItemEnd();
    }
    if (Peek() == '+' || Peek() == '-') {
      double inc = 0;
      if (!ParseSigned(&inc)) return false;
      if (Peek() != 'x') return Fail("unexpected character in series values, expected \"x\"");
      ++pos_;
      uint64_t n = 0;
      if (!ParseUint(&n)) return false;
      if (n == UINT64_MAX || !Room(*out, n + 1)) return false;
      for (uint64_t i = 0; i <= n; ++i) {
        out->push_back(SequenceValue{.value = v});
        v += inc;  // repeated addition, as upstream, so rounding accumulates identically
      }
      return ItemEnd();
    }
    if (!Room(*out, 1)) return false;
    out->push_back(SequenceValue{.value = v});
    return ItemEnd();
  }

  bool ParseHistogramItem(std::vector<SequenceValue>* out) {
    HistogramDesc a;
    if (!ParseHistogram(&a)) return false;
    if (Peek() == 'x') {
      ++pos_;
      uint64_t n = 0;
      if (!ParseUint(&n)) return false;
      if (n == UINT64_MAX || !Room(*out, n + 1)) return false;
      for (uint64_t i = 0; i <= n; ++i) {
        SequenceValue sv;
        sv.histogram = a;
        out->push_back(std::move(sv));
      }
      return ItemEnd();
    }
    if (Peek() == '+' || Peek() == '-') {
      const bool subtract = Peek() == '-';
      ++pos_;
      if (!(Peek() == '{' && Peek(1) == '{')) return Fail("expected histogram after + or -");
      HistogramDesc b;
      if (!ParseHistogram(&b)) return false;
      if (Peek() != 'x') return Fail("unexpected character in series values, expected \"x\"");
      ++pos_;
      uint64_t n = 0;
      if (!ParseUint(&n)) return false;
      if (n == UINT64_MAX || !Room(*out, n + 1)) return false;
      for (uint64_t i = 0; i <= n; ++i) {
        SequenceValue sv;
        sv.histogram = a;
        if (i > 0) {
          sv.increment = b;
          sv.steps = i;
          sv.subtract = subtract;
        }
        out->push_back(std::move(sv));
      }
      return ItemEnd();
    }
    if (!Room(*out, 1)) return false;
    SequenceValue sv;
    sv.histogram = std::move(a);
    out->push_back(std::move(sv));
    return ItemEnd();
  }

  bool ParseFloatList(std::vector<double>* out) {
    if (Peek() != '[') return Fail("expected \"[\" in histogram description");
    ++pos_;
    while (true) {
      SkipSpace();
      if (Peek() == ']') {
        ++pos_;
        return true;
      }
      double v = 0;
      if (!ParseSigned(&v)) return false;
      out->push_back(v);
    }
  }

  bool ParseInt(int32_t* v) {
    bool neg = false;
    if (Peek() == '-') {
      neg = true;
      ++pos_;
    }
    uint64_t n = 0;
    if (!ParseUint(&n)) return false;
    if (n > 0x7fffffff) return Fail("histogram integer out of range");
    *v = neg ? -static_cast<int32_t>(n) : static_cast<int32_t>(n);
    return true;
  }

  bool ParseHistogram(HistogramDesc* h) {
    pos_ += 2;  // {{
    absl::flat_hash_set<std::string> seen;
    while (true) {
      SkipSpace();
      if (Peek() == '}' && Peek(1) == '}') {
        pos_ += 2;
        return true;
      }
      const size_t key_pos = pos_;
      const std::string key(Ident(false));
      if (key.empty() || Peek() != ':') {
        ErrorAt(key_pos, "unexpected character in histogram description, expected histogram "
                         "description key, e.g. buckets:[5 10 7]");
        return false;
      }
      ++pos_;
      if (!seen.insert(key).second) {
        ErrorAt(key_pos, absl::StrCat("duplicate key \"", key, "\" in histogram"));
        return false;
      }
      bool ok = true;
      if (key == "schema") {
        ok = ParseInt(&h->schema);
      } else if (key == "sum") {
        ok = ParseSigned(&h->sum);
      } else if (key == "count") {
        ok = ParseSigned(&h->count);
      } else if (key == "z_bucket") {
        ok = ParseSigned(&h->zero_count);
      } else if (key == "z_bucket_w") {
        ok = ParseUnsigned(&h->zero_threshold);
      } else if (key == "buckets") {
        ok = ParseFloatList(&h->buckets);
      } else if (key == "offset") {
        ok = ParseInt(&h->offset);
      } else if (key == "n_buckets") {
        ok = ParseFloatList(&h->negative_buckets);
      } else if (key == "n_offset") {
        ok = ParseInt(&h->negative_offset);
      } else if (key == "custom_values") {
        ok = ParseFloatList(&h->custom_values);
      } else if (key == "counter_reset_hint") {
        const std::string v(Ident(false));
        using H = HistogramDesc::CounterResetHint;
        if (v == "unknown") {
          h->counter_reset_hint = H::kUnknown;
        } else if (v == "reset") {
          h->counter_reset_hint = H::kReset;
        } else if (v == "not_reset") {
          h->counter_reset_hint = H::kNotReset;
        } else if (v == "gauge") {
          h->counter_reset_hint = H::kGauge;
        } else {
          return Fail(absl::StrCat("error parsing counter_reset_hint: unknown value \"", v,
                                   "\""));
        }
        h->counter_reset_hint_set = true;
      } else {
        ErrorAt(key_pos, absl::StrCat("unknown histogram description key \"", key, "\""));
        return false;
      }
      if (!ok) return false;
      if (Peek() != ' ' && Peek() != '\t' && !(Peek() == '}' && Peek(1) == '}')) {
        return Fail("unexpected character in histogram description");
      }
    }
  }

  std::string_view in_;
  size_t max_values_;
  size_t pos_ = 0;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<SeriesDesc> ParseSeriesDesc(std::string_view input, size_t max_values) {
  return SeriesParser(input, max_values).Run();
}

}  // namespace strata::promql::parser
