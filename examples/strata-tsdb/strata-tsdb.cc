// strata-tsdb: inspect and build Prometheus TSDB data directories, like `promtool tsdb`.
//
//   strata-tsdb dump DIR [--min-time MS] [--max-time MS] [--match SELECTOR]
//   strata-tsdb analyze DIR
//   strata-tsdb create-blocks-from openmetrics FILE OUTDIR
//   strata-tsdb compact DIR
//
// `dump` prints promtool 2.42's line format: `<labels> <value %g> <timestamp ms>`.
// Errors go to stderr with exit status 1 (2 for usage errors).
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "strata/base/file_system.h"
#include "strata/model/labels.h"
#include "strata/model/matcher.h"
#include "strata/promql/parser/parser.h"
#include "strata/tsdb/block/block_writer.h"
#include "strata/tsdb/db.h"

namespace {

using strata::model::Labels;

int Fail(const std::string& msg) {
  std::fprintf(stderr, "strata-tsdb: %s\n", msg.c_str());
  return 1;
}

int Usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  strata-tsdb dump DIR [--min-time MS] [--max-time MS] [--match SELECTOR]\n"
               "  strata-tsdb analyze DIR\n"
               "  strata-tsdb create-blocks-from openmetrics FILE OUTDIR\n"
               "  strata-tsdb compact DIR\n");
  return 2;
}

bool ParseInt(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Go's fmt "%g" for a float64, which promtool's dump uses: the shortest digits that round-trip
// (strconv.FormatFloat(v, 'g', -1, 64)), in exponent form (at least two exponent digits)
// when the decimal exponent is < -4 or >= 6 (strconv uses precision 6 for that decision
// when the precision is "shortest"); fmt adds the sign of infinities: "+Inf".
std::string FormatGoG(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Shortest round-trip digits in scientific form: d[.ddd]e±XX.
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  const size_t e = sci.find('e');
  std::string mant = sci.substr(0, e);
  int exp = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  bool neg = false;
  if (!mant.empty() && mant[0] == '-') {
    neg = true;
    mant.erase(0, 1);
  }
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  const int nd = static_cast<int>(digits.size());
  constexpr int eprec = 6;
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= eprec) {
    out += digits[0];
    if (nd > 1) out += "." + digits.substr(1);
    out += 'e';
    out += exp < 0 ? '-' : '+';
    const int a = exp < 0 ? -exp : exp;
    if (a < 10) out += '0';
    out += std::to_string(a);
    return out;
  }
  if (exp < 0) {
    out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else if (exp + 1 >= nd) {
    out += digits + std::string(static_cast<size_t>(exp + 1 - nd), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(exp + 1)) + "." +
           digits.substr(static_cast<size_t>(exp + 1));
  }
  return out;
}

int Dump(const std::vector<std::string>& args) {
  if (args.empty()) return Usage();
  std::string dir;
  int64_t mint = std::numeric_limits<int64_t>::min();
  int64_t maxt = std::numeric_limits<int64_t>::max();
  std::string match = "{__name__=~\".+\"}";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--min-time" || a == "--max-time" || a == "--match") {
      if (i + 1 >= args.size()) return Fail(a + " needs a value");
      const std::string& v = args[++i];
      if (a == "--match") {
        match = v;
      } else if (!ParseInt(v, a == "--min-time" ? &mint : &maxt)) {
        return Fail(a + ": not an integer millisecond timestamp: \"" + v + "\"");
      }
    } else if (dir.empty()) {
      dir = a;
    } else {
      return Fail("unexpected argument \"" + a + "\"");
    }
  }
  if (dir.empty()) return Usage();
  auto matchers = strata::promql::parser::ParseMetricSelector(match);
  if (!matchers.ok()) return Fail("--match " + match + ": " + matchers.status().ToString());
  if (matchers->empty()) return Fail("--match " + match + ": selector has no matchers");
  strata::tsdb::DBOptions opts;
  opts.read_only = true;
  auto db = strata::tsdb::DB::Open(dir, opts);
  if (!db.ok()) return Fail("opening " + dir + ": " + db.status().ToString());
  auto q = (*db)->NewQuerier(mint, maxt);
  if (!q.ok()) return Fail("querying " + dir + ": " + q.status().ToString());
  auto ss = (*q)->Select(*matchers);
  std::string line;
  while (ss->Next()) {
    const std::string lbs = ss->At().labels().ToString();
    auto it = ss->At().Iterator();
    while (it->Next()) {
      const auto s = it->At();
      line = lbs;
      line += ' ';
      line += FormatGoG(s.v);
      line += ' ';
      line += std::to_string(s.t);
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
    if (!it->status().ok()) return Fail("reading " + lbs + ": " + it->status().ToString());
  }
  if (!ss->status().ok()) return Fail("reading " + dir + ": " + ss->status().ToString());
  return 0;
}

std::string FormatDuration(int64_t ms) {
  // Go's time.Duration String for whole seconds: 2h0m0s, 1m30s, 45s, 500ms.
  if (ms < 1000) return std::to_string(ms) + "ms";
  const int64_t h = ms / 3600000, m = ms / 60000 % 60;
  const double s = static_cast<double>(ms % 60000) / 1000;
  char sb[32];
  std::snprintf(sb, sizeof(sb), "%g", s);
  if (h > 0) return std::to_string(h) + "h" + std::to_string(m) + "m" + sb + "s";
  if (m > 0) return std::to_string(m) + "m" + sb + "s";
  return std::string(sb) + "s";
}

int Analyze(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage();
  strata::tsdb::DBOptions opts;
  opts.read_only = true;
  auto db = strata::tsdb::DB::Open(args[0], opts);
  if (!db.ok()) return Fail("opening " + args[0] + ": " + db.status().ToString());
  auto blocks = (*db)->Blocks();
  if (blocks.empty()) return Fail("no blocks found in " + args[0]);
  for (const auto& b : blocks) {
    const auto& m = b->meta();
    std::printf("Block ID: %s\n", m.ulid.ToString().c_str());
    std::printf("Range: [%lld, %lld)\n", static_cast<long long>(m.min_time),
                static_cast<long long>(m.max_time));
    std::printf("Duration: %s\n", FormatDuration(m.max_time - m.min_time).c_str());
    std::printf("Series: %llu\nSamples: %llu\nChunks: %llu\n",
                static_cast<unsigned long long>(m.stats.num_series),
                static_cast<unsigned long long>(m.stats.num_samples),
                static_cast<unsigned long long>(m.stats.num_chunks));
    auto& fs = *strata::base::DefaultFileSystem();
    uint64_t chunk_bytes = 0;
    auto names = fs.ListDir(b->dir() + "/chunks");
    if (names.ok()) {
      for (const auto& n : *names) {
        auto sz = fs.FileSize(b->dir() + "/chunks/" + n);
        if (sz.ok()) chunk_bytes += *sz;
      }
    }
    auto isz = fs.FileSize(b->dir() + "/index");
    std::printf("Chunk bytes: %llu\nIndex bytes: %llu\n",
                static_cast<unsigned long long>(chunk_bytes),
                static_cast<unsigned long long>(isz.ok() ? *isz : 0));
    auto q = b->NewQuerier(m.min_time, m.max_time);
    if (!q.ok()) return Fail("querying block " + b->dir() + ": " + q.status().ToString());
    auto lnames = (*q)->LabelNames({});
    if (!lnames.ok()) return Fail("label names of " + b->dir() + ": " + lnames.status().ToString());
    std::vector<std::pair<size_t, std::string>> card;
    for (const auto& n : *lnames) {
      auto vals = (*q)->LabelValues(n, {});
      if (!vals.ok()) return Fail("label values of " + n + ": " + vals.status().ToString());
      card.emplace_back(vals->size(), n);
    }
    std::sort(card.begin(), card.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::printf("Label names: %zu\n\nHighest cardinality labels:\n", lnames->size());
    for (size_t i = 0; i < card.size() && i < 10; ++i) {
      std::printf("%zu %s\n", card[i].first, card[i].second.c_str());
    }
    std::printf("\n");
  }
  return 0;
}

// One OpenMetrics sample line: name{labels} value [timestamp] [# exemplar].
struct OmSample {
  Labels lset;
  int64_t t = 0;
  double v = 0;
};

bool ParseGoFloat(std::string_view s, double* out) {
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "+Inf" || s == "Inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Returns an empty string on success, else what is wrong.
std::string ParseOmLine(std::string_view line, OmSample* out) {
  size_t i = 0;
  std::vector<std::pair<std::string, std::string>> pairs;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  std::string name(line.substr(0, i));
  if (name.empty()) return "missing metric name";
  pairs.emplace_back("__name__", name);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t j = i;
      while (j < line.size() && line[j] != '=') ++j;
      if (j + 1 >= line.size() || line[j + 1] != '"') return "expected =\" after label name";
      std::string lname(line.substr(i, j - i));
      std::string val;
      size_t k = j + 2;
      for (; k < line.size() && line[k] != '"'; ++k) {
        if (line[k] == '\\' && k + 1 < line.size()) {
          ++k;
          val += line[k] == 'n' ? '\n' : line[k];
        } else {
          val += line[k];
        }
      }
      if (k >= line.size()) return "unterminated label value";
      pairs.emplace_back(std::move(lname), std::move(val));
      i = k + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return "unterminated label set";
    ++i;
  }
  if (i >= line.size() || line[i] != ' ') return "expected a space before the value";
  std::string_view rest = line.substr(i + 1);
  const size_t ex = rest.find(" # ");
  if (ex != std::string_view::npos) rest = rest.substr(0, ex);  // exemplar: ignored
  const size_t sp = rest.find(' ');
  std::string_view val = rest.substr(0, sp);
  if (!ParseGoFloat(val, &out->v)) return "bad value \"" + std::string(val) + "\"";
  if (sp == std::string_view::npos) return "sample without timestamp (backfill needs one)";
  std::string_view ts = rest.substr(sp + 1);
  double sec = 0;
  if (!ParseGoFloat(ts, &sec) || std::isnan(sec) || std::isinf(sec)) {
    return "bad timestamp \"" + std::string(ts) + "\"";
  }
  // OpenMetrics timestamps are seconds; Prometheus's parser truncates seconds*1000.
  out->t = static_cast<int64_t>(sec * 1000);
  std::vector<std::pair<std::string_view, std::string_view>> views;
  for (const auto& [n, v] : pairs) views.emplace_back(n, v);
  out->lset = Labels::FromPairs(views);
  return "";
}

int CreateBlocks(const std::vector<std::string>& args) {
  if (args.size() != 3 || args[0] != "openmetrics") return Usage();
  const std::string& file = args[1];
  const std::string& outdir = args[2];
  auto& fs = *strata::base::DefaultFileSystem();
  auto text = fs.ReadFile(file);
  if (!text.ok()) return Fail("reading " + file + ": " + text.status().ToString());
  std::map<std::string, std::pair<Labels, std::vector<strata::model::Sample>>> series;
  int64_t mint = std::numeric_limits<int64_t>::max(), maxt = std::numeric_limits<int64_t>::min();
  std::string_view all = *text;
  size_t pos = 0;
  int lineno = 0;
  bool eof = false;
  while (pos < all.size()) {
    size_t nl = all.find('\n', pos);
    if (nl == std::string_view::npos) nl = all.size();
    std::string_view line = all.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (eof) return Fail(file + ":" + std::to_string(lineno) + ": data after # EOF");
    if (line == "# EOF") {
      eof = true;
      continue;
    }
    if (line.empty()) return Fail(file + ":" + std::to_string(lineno) + ": empty line");
    if (line[0] == '#') continue;  // # TYPE, # HELP, # UNIT
    OmSample s;
    std::string err = ParseOmLine(line, &s);
    if (!err.empty()) return Fail(file + ":" + std::to_string(lineno) + ": " + err);
    auto& e = series[std::string(s.lset.packed())];
    if (e.second.empty()) e.first = s.lset;
    e.second.push_back({s.t, s.v});
    mint = std::min(mint, s.t);
    maxt = std::max(maxt, s.t);
  }
  if (!eof) return Fail(file + ": missing # EOF");
  if (series.empty()) return Fail(file + ": no samples");
  if (auto s = fs.CreateDirs(outdir); !s.ok()) return Fail(s.ToString());
  // promtool backfill: windows of the block duration (2h), aligned to it.
  const int64_t width = strata::tsdb::block::kDefaultChunkRange;
  int64_t start = mint / width * width;
  if (mint < 0 && mint % width != 0) start -= width;
  const bool tty = isatty(STDERR_FILENO) != 0;
  int blocks = 0;
  for (int64_t t = start; t <= maxt; t += width) {
    strata::tsdb::block::BlockWriter bw(fs, outdir);
    bool any = false;
    for (auto& [key, e] : series) {
      std::vector<strata::model::Sample> in;
      for (const auto& s : e.second) {
        if (s.t >= t && s.t < t + width) in.push_back(s);
      }
      if (in.empty()) continue;
      std::stable_sort(in.begin(), in.end(),
                       [](const auto& a, const auto& b) { return a.t < b.t; });
      // Drop repeated timestamps, keeping the first, as an appender would refuse them.
      in.erase(std::unique(in.begin(), in.end(),
                           [](const auto& a, const auto& b) { return a.t == b.t; }),
               in.end());
      if (auto s = bw.AddSeries(e.first, std::move(in)); !s.ok()) {
        return Fail("series " + e.first.ToString() + ": " + s.ToString());
      }
      any = true;
    }
    if (!any) continue;
    auto meta = bw.Flush();
    if (!meta.ok()) return Fail("writing block in " + outdir + ": " + meta.status().ToString());
    ++blocks;
    if (tty) {
      std::fprintf(stderr, "\rblock %d: %s [%lld, %lld)", blocks, meta->ulid.ToString().c_str(),
                   static_cast<long long>(meta->min_time), static_cast<long long>(meta->max_time));
    }
  }
  if (tty) std::fprintf(stderr, "\n");
  return 0;
}

int Compact(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage();
  auto db = strata::tsdb::DB::Open(args[0]);
  if (!db.ok()) return Fail("opening " + args[0] + ": " + db.status().ToString());
  const size_t before = (*db)->Blocks().size();
  if (auto s = (*db)->Compact(); !s.ok()) return Fail("compacting " + args[0] + ": " + s.ToString());
  const size_t after = (*db)->Blocks().size();
  if (auto s = (*db)->Close(); !s.ok()) return Fail("closing " + args[0] + ": " + s.ToString());
  std::printf("blocks: %zu before, %zu after\n", before, after);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "dump") return Dump(args);
  if (cmd == "analyze") return Analyze(args);
  if (cmd == "create-blocks-from") return CreateBlocks(args);
  if (cmd == "compact") return Compact(args);
  std::fprintf(stderr, "strata-tsdb: unknown command \"%s\"\n", cmd.c_str());
  return Usage();
}
