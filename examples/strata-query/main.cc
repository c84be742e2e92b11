// strata-query: evaluates one PromQL query over the blocks of a Prometheus data directory
// and prints the JSON body Prometheus's HTTP API would return for it.
//
//   strata-query --data DIR [--compat=2] [--time T] [--] QUERY           (/api/v1/query)
//   strata-query --data DIR [--compat=2] --start T --end T --step D [--] QUERY
//                                                                      (/api/v1/query_range)
//
// T is Unix seconds (decimals allowed) or RFC 3339; D is seconds or a Prometheus duration
// (10, 10s, 1m30s), as the API's parseTime/parseDuration accept them. Without --time the
// query runs at the current time, as the API does.
//
// Every subdirectory of DIR holding a meta.json (and not named *.tmp*) is opened as a block;
// their queriers are merged. The WAL (the head) is not read.
//
// Output, byte-compatible with Prometheus 2.42's api/v1 (web/api/v1/api.go and
// util/jsonutil): timestamps are JSON numbers of seconds with the milliseconds kept as a
// three-digit fraction ("1700000000.500"); values are strings formatted like Go's
// strconv.FormatFloat (NaN, +Inf, -Inf; exponent form below 1e-6 and from 1e21); label
// strings escaped like Go's encoding/json (HTML-safe: <, >, & as \u003c, \u003e, \u0026).
// Errors print {"status":"error","errorType":...,"error":...} and exit 1; usage errors exit 2.
// --stats also prints the engine's timings (seconds) and sample counts to stderr as one JSON
// line, {"parseTime":..,"prepareTime":..,"evalTime":..,"totalSamples":..,"peakSamples":..},
// for bench/compare/promql-bench.sh.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "strata/base/file_system.h"
#include "strata/promql/engine.h"
#include "strata/storage/querier.h"
#include "strata/tsdb/block/block.h"

namespace {

using strata::promql::Result;
using strata::promql::ValueType;

// ---------------------------------------------------------------------------------------
// The data directory as one Queryable: every block, merged.

class BlocksQueryable final : public strata::storage::Queryable {
 public:
  // Opens every block directory under `dir`. Returns the first block's error, annotated
  // with its directory, or NotFound if `dir` cannot be listed.
  static absl::StatusOr<std::unique_ptr<BlocksQueryable>> Open(const std::string& dir) {
    strata::base::FileSystem& fs = *strata::base::DefaultFileSystem();
    auto names = fs.ListDir(dir);
    if (!names.ok()) return names.status();
    auto q = std::unique_ptr<BlocksQueryable>(new BlocksQueryable());
    for (const std::string& name : *names) {
      // Prometheus leaves half-written blocks as <ulid>.tmp-for-creation/-deletion.
      if (name.find(".tmp") != std::string::npos) continue;
      const std::string path = strata::base::JoinPath(dir, name);
      auto is_dir = fs.IsDirectory(path);
      if (!is_dir.ok() || !*is_dir) continue;
      auto has_meta = fs.Exists(strata::base::JoinPath(path, "meta.json"));
      if (!has_meta.ok()) return has_meta.status();
      if (!*has_meta) continue;
      auto block = strata::tsdb::block::Block::Open(fs, path);
      if (!block.ok()) return block.status();
      q->blocks_.push_back(*std::move(block));
    }
    return q;
  }

  absl::StatusOr<std::unique_ptr<strata::storage::Querier>> NewQuerier(int64_t mint,
                                                                       int64_t maxt) override {
    std::vector<std::unique_ptr<strata::storage::Querier>> queriers;
    for (const auto& b : blocks_) {
      // A block covers [min_time, max_time); skip blocks outside the range like
      // Prometheus's DB.Querier (OverlapsClosedInterval).
      if (b->meta().min_time > maxt || b->meta().max_time <= mint) continue;
      auto q = b->NewQuerier(mint, maxt);
      if (!q.ok()) return q.status();
      queriers.push_back(*std::move(q));
    }
    return strata::storage::NewMergeQuerier(std::move(queriers));
  }

 private:
  BlocksQueryable() = default;
  std::vector<std::shared_ptr<strata::tsdb::block::Block>> blocks_;
};

// ---------------------------------------------------------------------------------------
// Parameters as web/api/v1/api.go parses them.

// parseTime: float seconds (fraction rounded to milliseconds), else RFC 3339.
bool ParseTime(const std::string& s, int64_t* ms) {
  double f = 0;
  const char* end = s.data() + s.size();
  // Go's ParseFloat takes a leading '+', from_chars does not.
  const char* begin = s.data() + (s.size() > 1 && s[0] == '+' ? 1 : 0);
  auto [p, ec] = std::from_chars(begin, end, f);
  if (ec == std::errc() && p == end && std::isfinite(f)) {
    double whole = 0;
    const double frac = std::modf(f, &whole);
    *ms = static_cast<int64_t>(whole) * 1000 + static_cast<int64_t>(std::llround(frac * 1000));
    return true;
  }
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) {
    *ms = absl::ToUnixMillis(t);
    return true;
  }
  return false;
}

// model.ParseDuration: [Ny][Nw][Nd][Nh][Nm][Ns][Nms], at least one unit, in that order.
bool ParsePromDuration(std::string_view s, int64_t* ms) {
  static constexpr struct {
    std::string_view unit;
    int64_t ms;
  } kUnits[] = {{"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000},
                {"d", 24LL * 3600 * 1000},       {"h", 3600LL * 1000},
                {"m", 60LL * 1000},              {"s", 1000},
                {"ms", 1}};
  if (s.empty()) return false;
  int64_t total = 0;
  size_t next_unit = 0;
  while (!s.empty()) {
    size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    if (n == 0) return false;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + n, v);
    if (ec != std::errc() || p != s.data() + n) return false;
    s.remove_prefix(n);
    size_t u = next_unit;
    // "ms" must be tried before "m".
    bool found = false;
    for (; u < std::size(kUnits); ++u) {
      const std::string_view unit = kUnits[u].unit;
      if (s.substr(0, unit.size()) != unit) continue;
      if (unit == "m" && s.substr(0, 2) == "ms") continue;
      found = true;
      break;
    }
    if (!found) return false;
    if (v > INT64_MAX / kUnits[u].ms || total > INT64_MAX - v * kUnits[u].ms) return false;
    total += v * kUnits[u].ms;
    s.remove_prefix(kUnits[u].unit.size());
    next_unit = u + 1;
  }
  *ms = total;
  return true;
}

// parseDuration: float seconds, else a Prometheus duration.
bool ParseStep(const std::string& s, int64_t* ms) {
  double f = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, f);
  if (ec == std::errc() && p == end) {
    const double ns = f * 1e9;
    if (!(ns > -9.2e18 && ns < 9.2e18)) return false;  // overflows time.Duration
    *ms = static_cast<int64_t>(ns) / 1'000'000;
    return true;
  }
  return ParsePromDuration(s, ms);
}

// ---------------------------------------------------------------------------------------
// JSON output.

// Go's encoding/json string escaping (HTMLEscape on, invalid UTF-8 as U+FFFD).
void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence; anything invalid becomes U+FFFD, one byte at a time.
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
               (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))) {
      ok = false;
    }
    if (!ok) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (cp == 0x2028 || cp == 0x2029) {
      out += cp == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += '"';
}

// jsonutil.MarshalTimestamp: seconds, then ".mmm" when the milliseconds are non-zero.
void AppendTimestamp(std::string& out, int64_t t) {
  if (t < 0) {
    out += '-';
    t = -t;  // Prometheus negates too; INT64_MIN cannot occur for a query time
  }
  out += std::to_string(t / 1000);
  const int64_t frac = t % 1000;
  if (frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(frac));
    out += buf;
  }
}

// strconv.FormatFloat(v, fmt, -1, 64) for finite v: the shortest digits that round-trip.
void AppendShortest(std::string& out, double v, std::chars_format fmt) {
  char buf[512];  // a fixed-notation double needs at most 327 characters
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, fmt);
  out.append(buf, ec == std::errc() ? p : buf);
}

// A quoted sample value. Vector and matrix points go through jsonutil.MarshalValue ('e'
// below 1e-6 and from 1e21, 'f' otherwise); the scalar result uses Scalar.MarshalJSON,
// which always formats with 'f' ("0.000000002", "3000000000000000000000").
void AppendValue(std::string& out, double v, bool always_fixed = false) {
  out += '"';
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    const double a = std::fabs(v);
    const bool exp = !always_fixed && a != 0 && (a < 1e-6 || a >= 1e21);
    AppendShortest(out, v, exp ? std::chars_format::scientific : std::chars_format::fixed);
  }
  out += '"';
}

// Scalar and string results marshal their time with encoding/json as float64(t)/1000, so
// the fraction has no trailing zeros ("1700005000.5", not "1700005000.500").
void AppendFloatSeconds(std::string& out, int64_t t) {
  AppendShortest(out, static_cast<double>(t) / 1000, std::chars_format::fixed);
}

void AppendPoint(std::string& out, int64_t t, double v) {
  out += '[';
  AppendTimestamp(out, t);
  out += ',';
  AppendValue(out, v);
  out += ']';
}

void AppendMetric(std::string& out, const strata::model::Labels& lset) {
  out += "{\"metric\":{";
  bool first = true;
  for (const auto& l : lset) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, l.name);
    out += ':';
    AppendJsonString(out, l.value);
  }
  out += '}';
}

std::string SuccessBody(const Result& r, bool annotations) {
  std::string out = "{\"status\":\"success\",\"data\":{\"resultType\":";
  AppendJsonString(out, strata::promql::ValueTypeName(r.type));
  out += ",\"result\":";
  switch (r.type) {
    case ValueType::kScalar:
      out += '[';
      AppendFloatSeconds(out, r.scalar.t);
      out += ',';
      AppendValue(out, r.scalar.v, /*always_fixed=*/true);
      out += ']';
      break;
    case ValueType::kString:
      out += '[';
      AppendFloatSeconds(out, r.string.t);
      out += ',';
      AppendJsonString(out, r.string.v);
      out += ']';
      break;
    case ValueType::kVector: {
      out += '[';
      for (size_t i = 0; i < r.vector.size(); ++i) {
        if (i > 0) out += ',';
        AppendMetric(out, r.vector[i].metric);
        out += ",\"value\":";
        AppendPoint(out, r.vector[i].t, r.vector[i].v);
        out += '}';
      }
      out += ']';
      break;
    }
    case ValueType::kMatrix: {
      out += '[';
      for (size_t i = 0; i < r.matrix.size(); ++i) {
        if (i > 0) out += ',';
        AppendMetric(out, r.matrix[i].metric);
        out += ",\"values\":[";
        for (size_t j = 0; j < r.matrix[i].points.size(); ++j) {
          if (j > 0) out += ',';
          AppendPoint(out, r.matrix[i].points[j].t, r.matrix[i].points[j].v);
        }
        out += "]}";
      }
      out += ']';
      break;
    }
    case ValueType::kNone:
      out += "null";
      break;
  }
  out += '}';
  // Prometheus 2.42 has no PromQL annotations, so --compat=2 prints none; 3.x lists them
  // as "warnings" and "infos" after "data", each only when non-empty.
  if (annotations) {
    for (const auto& [key, list] : {std::pair{"warnings", &r.warnings}, {"infos", &r.infos}}) {
      if (list->empty()) continue;
      out += ",\"";
      out += key;
      out += "\":[";
      for (size_t i = 0; i < list->size(); ++i) {
        if (i > 0) out += ',';
        AppendJsonString(out, (*list)[i]);
      }
      out += ']';
    }
  }
  out += '}';
  return out;
}

int PrintError(std::string_view type, std::string_view msg) {
  std::string out = "{\"status\":\"error\",\"errorType\":";
  AppendJsonString(out, type);
  out += ",\"error\":";
  AppendJsonString(out, msg);
  out += '}';
  std::puts(out.c_str());
  return 1;
}

// The API's classification. Errors of query creation (parsing, type checks, a range query
// over a range vector or string) are bad_data; /api/v1/query prefixes them with
// `invalid parameter "query": `, /api/v1/query_range does not. Then returnAPIError:
// cancellation and timeouts have their own types, storage failures are internal, anything
// else the engine reports is an execution error.
int PrintQueryError(const absl::Status& s, bool range) {
  const std::string msg(s.message());
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      if (msg.find("parse error") != std::string::npos ||
          msg.rfind("invalid expression type", 0) == 0) {
        return PrintError("bad_data", range ? msg : "invalid parameter \"query\": " + msg);
      }
      return PrintError("execution", msg);
    case absl::StatusCode::kResourceExhausted:
      return PrintError("execution", msg);
    case absl::StatusCode::kDeadlineExceeded:
      return PrintError("timeout", msg);
    case absl::StatusCode::kCancelled:
      return PrintError("canceled", msg);
    default:
      return PrintError("internal", msg);
  }
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --data DIR [--compat=2|3] [--stats] [--time T] [--] QUERY\n"
               "       %s --data DIR [--compat=2|3] [--stats] --start T --end T --step D [--] "
               "QUERY\n",
               argv0, argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, time_s, start_s, end_s, step_s, query;
  bool have_query = false, compat_2x = false, have_time = false, have_range = false;
  bool opts_done = false, stats = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string_view flag, std::string* out) {
      // Accepts "--flag=V" and "--flag V".
      if (a.size() > flag.size() && a.compare(0, flag.size(), flag) == 0 &&
          a[flag.size()] == '=') {
        *out = a.substr(flag.size() + 1);
        return true;
      }
      if (a == flag && i + 1 < argc) {
        *out = argv[++i];
        return true;
      }
      return false;
    };
    if (!opts_done && a == "--") {
      opts_done = true;
    } else if (!opts_done && a.rfind("--", 0) == 0) {
      std::string compat;
      if (a == "--stats") {
        stats = true;
      } else if (value("--data", &data)) {
      } else if (value("--time", &time_s)) {
        have_time = true;
      } else if (value("--start", &start_s) || value("--end", &end_s) ||
                 value("--step", &step_s)) {
        have_range = true;
      } else if (value("--compat", &compat) && (compat == "2" || compat == "3")) {
        compat_2x = compat == "2";
      } else {
        return Usage(argv[0]);
      }
    } else if (!have_query) {
      query = a;
      have_query = true;
    } else {
      return Usage(argv[0]);
    }
  }
  if (data.empty() || !have_query || (have_time && have_range)) return Usage(argv[0]);

  // Parameters are checked before the data is opened, as the API checks them first.
  int64_t ts = 0, start = 0, end = 0, step = 0;
  if (have_range) {
    if (!ParseTime(start_s, &start)) {
      return PrintError("bad_data", "invalid parameter \"start\": cannot parse \"" + start_s +
                                        "\" to a valid timestamp");
    }
    if (!ParseTime(end_s, &end)) {
      return PrintError("bad_data", "invalid parameter \"end\": cannot parse \"" + end_s +
                                        "\" to a valid timestamp");
    }
    if (end < start) {
      return PrintError("bad_data",
                        "invalid parameter \"end\": end timestamp must not be before start time");
    }
    if (!ParseStep(step_s, &step)) {
      return PrintError("bad_data", "invalid parameter \"step\": cannot parse \"" + step_s +
                                        "\" to a valid duration");
    }
    if (step <= 0) {
      return PrintError("bad_data",
                        "invalid parameter \"step\": zero or negative query resolution step "
                        "widths are not accepted. Try a positive integer");
    }
    if ((end - start) / step > 11000) {
      return PrintError("bad_data",
                        "exceeded maximum resolution of 11,000 points per timeseries. Try "
                        "decreasing the query resolution (?step=XX)");
    }
  } else if (have_time) {
    if (!ParseTime(time_s, &ts)) {
      return PrintError("bad_data", "invalid parameter \"time\": Invalid time value for 'time': "
                                    "cannot parse \"" + time_s + "\" to a valid timestamp");
    }
  } else {
    ts = absl::ToUnixMillis(absl::Now());
  }

  auto db = BlocksQueryable::Open(data);
  if (!db.ok()) return PrintError("internal", std::string(db.status().message()));

  strata::promql::EngineOptions opts;
  opts.compat_2x = compat_2x;
  // Prometheus 2.42 has none of the experimental functions or syntax (limitk, info,
  // duration expressions, ...): with --compat=2 they are parse errors, as there.
  opts.enable_experimental = !compat_2x;
  strata::promql::Engine engine(opts);
  auto r = have_range ? engine.RangeQuery(**db, query, start, end, step)
                      : engine.InstantQuery(**db, query, ts);
  if (!r.ok()) return PrintQueryError(r.status(), have_range);
  if (stats) {
    const auto& st = r->stats;
    std::fprintf(stderr,
                 "{\"parseTime\":%.9f,\"prepareTime\":%.9f,\"evalTime\":%.9f,"
                 "\"totalSamples\":%lld,\"peakSamples\":%lld}\n",
                 absl::ToDoubleSeconds(st.parse_time), absl::ToDoubleSeconds(st.prepare_time),
                 absl::ToDoubleSeconds(st.eval_time), static_cast<long long>(st.total_samples),
                 static_cast<long long>(st.peak_samples));
  }
  std::puts(SuccessBody(*r, !compat_2x).c_str());
  return 0;
}
