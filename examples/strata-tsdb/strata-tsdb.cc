// strata-tsdb: inspect and build Prometheus TSDB data directories, like `promtool tsdb`.
//
//   strata-tsdb dump DIR [--min-time MS] [--max-time MS] [--match SELECTOR]
//   strata-tsdb analyze DIR
//   strata-tsdb create-blocks-from openmetrics FILE OUTDIR
//   strata-tsdb compact DIR
//
// `dump` prints promtool 2.42's line format: `<labels> <value %g> <timestamp ms>`.
// Errors go to stderr with exit status 1 (2 for usage errors).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

#include "absl/container/flat_hash_map.h"
#include "strata/base/file_system.h"
#include "strata/base/status.h"
#include "strata/chunkenc/xor.h"
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

// ---------------------------------------------------------------------------------------
// create-blocks-from openmetrics: one streaming pass over the file.
//
// promtool 2.42 re-reads the whole (mmapped) file once per 2h window and appends each
// window's samples to a fresh head. Here the file is read once, in 4 MiB pieces, and each
// sample goes straight into the XOR chunk of its series and 2h window (block::ChunkCutter,
// the head's chunk cutting), so memory holds the encoded chunks (what the blocks will hold)
// and the label sets, never the input text or raw samples. At the end the windows are
// written in time order, one block each, chunks copied verbatim.
//
// Lines of one series usually follow each other: a line that starts with the previous
// line's series text followed by a space is that series again, found without parsing labels
// or hashing. Otherwise the series text (name and label set, as written) is looked up in a
// hash map; only a series text never seen before is parsed into Labels (and mapped to an
// existing series when it is another spelling of the same label set).
//
// Samples of a series within a window must come in time order for streaming; a repeated
// timestamp keeps the first sample (as the head keeps the first of a batch). Out-of-order
// samples (promtool fails with "out of order sample" when they cross its commit batches)
// are still accepted: that series/window falls back to raw samples, sorted at the end.

// Reads a file line by line through a reusable buffer; no allocation per line.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd), buf_(kChunk, '\0') {}
  // Sets *line to the next line without its '\n' (valid until the next call). False at the
  // end of the file or on a read error (see error()).
  bool Next(std::string_view* line) {
    for (;;) {
      const char* nl = static_cast<const char*>(
          std::memchr(buf_.data() + pos_, '\n', end_ - pos_));
      if (nl != nullptr) {
        const size_t at = static_cast<size_t>(nl - buf_.data());
        *line = std::string_view(buf_.data() + pos_, at - pos_);
        pos_ = at + 1;
        return true;
      }
      if (eof_) {
        if (pos_ == end_) return false;
        *line = std::string_view(buf_.data() + pos_, end_ - pos_);  // last line, no '\n'
        pos_ = end_;
        return true;
      }
      // Keep the partial line, grow for lines longer than the buffer, and read more.
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
      if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
      const ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = std::strerror(errno);
        return false;
      }
      if (n == 0) eof_ = true;
      end_ += static_cast<size_t>(n);
    }
  }
  const std::string& error() const { return error_; }

 private:
  static constexpr size_t kChunk = 4 << 20;
  int fd_;
  std::string buf_;
  size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  std::string error_;
};

// Length of the series text at the start of `line` (metric name and optional label set,
// quote-aware), or 0 with *err set.
size_t SeriesTextEnd(std::string_view line, std::string* err) {
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  if (i == 0) {
    *err = "missing metric name";
    return 0;
  }
  if (i < line.size() && line[i] == '{') {
    ++i;
    for (;;) {
      while (i < line.size() && line[i] != '"' && line[i] != '}') ++i;
      if (i >= line.size()) {
        *err = "unterminated label set";
        return 0;
      }
      if (line[i] == '}') break;
      // A quoted value: skip to the closing quote, over escapes.
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\') ++i;
      }
      if (i >= line.size()) {
        *err = "unterminated label value";
        return 0;
      }
      ++i;
    }
    ++i;
  }
  return i;
}

// Prometheus's name syntax: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names without ':'.
bool ValidName(std::string_view n, bool metric) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (metric && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Parses the series text (from SeriesTextEnd) into labels.
std::string ParseSeriesText(std::string_view text, Labels* out) {
  size_t i = 0;
  while (i < text.size() && text[i] != '{') ++i;
  if (!ValidName(text.substr(0, i), true)) {
    return "invalid metric name \"" + std::string(text.substr(0, i)) + "\"";
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.emplace_back("__name__", std::string(text.substr(0, i)));
  if (i < text.size()) {
    ++i;
    while (i < text.size() && text[i] != '}') {
      size_t j = i;
      while (j < text.size() && text[j] != '=') ++j;
      if (j + 1 >= text.size() || text[j + 1] != '"') return "expected =\" after label name";
      std::string lname(text.substr(i, j - i));
      if (!ValidName(lname, false)) return "invalid label name \"" + lname + "\"";
      for (const auto& [n, v] : pairs) {
        if (n == lname) return "duplicate label name \"" + lname + "\"";
      }
      std::string val;
      size_t k = j + 2;
      for (; k < text.size() && text[k] != '"'; ++k) {
        if (text[k] == '\\' && k + 1 < text.size()) {
          ++k;
          val += text[k] == 'n' ? '\n' : text[k];
        } else {
          val += text[k];
        }
      }
      pairs.emplace_back(std::move(lname), std::move(val));
      i = k + 1;
      if (i < text.size() && text[i] == ',') ++i;
    }
  }
  std::vector<std::pair<std::string_view, std::string_view>> views;
  for (const auto& [n, v] : pairs) views.emplace_back(n, v);
  *out = Labels::FromPairs(std::move(views));
  return "";
}

// Clinger's fast path for the common plain decimal ("-12.5", "1700000000.123"): with at
// most 15 digits the digits are an exact double n and 10^k is exact, so n / 10^k is one
// correctly rounded operation, the same double strtod and Go's ParseFloat return. False for
// anything else (exponents, more digits, NaN, Inf), which the caller parses in full.
bool ParseSimpleDecimal(std::string_view s, double* out) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  uint64_t n = 0;
  int digits = 0, frac = -1;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      if (++digits > 15) return false;
      n = n * 10 + static_cast<uint64_t>(c - '0');
      if (frac >= 0) ++frac;
    } else if (c == '.' && frac < 0) {
      frac = 0;
    } else {
      return false;
    }
  }
  if (digits == 0) return false;
  double d = static_cast<double>(n);
  if (frac > 0) d /= kPow10[frac];
  *out = neg ? -d : d;
  return true;
}

// Value and timestamp (ms) after the series text's space. Returns "" or what is wrong.
std::string ParseValueAndTime(std::string_view rest, double* v, int64_t* t) {
  const size_t ex = rest.find(" # ");
  if (ex != std::string_view::npos) rest = rest.substr(0, ex);  // exemplar: ignored
  const size_t sp = rest.find(' ');
  std::string_view val = rest.substr(0, sp);
  if (!ParseSimpleDecimal(val, v) && !ParseGoFloat(val, v)) {
    return "bad value \"" + std::string(val) + "\"";
  }
  if (sp == std::string_view::npos) return "sample without timestamp (backfill needs one)";
  std::string_view ts = rest.substr(sp + 1);
  double sec = 0;
  if (!ParseSimpleDecimal(ts, &sec) &&
      (!ParseGoFloat(ts, &sec) || std::isnan(sec) || std::isinf(sec))) {
    return "bad timestamp \"" + std::string(ts) + "\"";
  }
  // OpenMetrics timestamps are seconds; Prometheus's parser truncates seconds*1000 (the
  // same double arithmetic, so that promtool and strata agree on every timestamp).
  *t = static_cast<int64_t>(sec * 1000);
  return "";
}

// One series' samples in one block window.
struct WindowData {
  int64_t window = 0;  // floor(t / block duration)
  strata::tsdb::block::ChunkCutter cutter;
  bool raw = false;  // out-of-order input seen: samples kept raw in `samples`
  std::vector<strata::model::Sample> samples;
};

struct SeriesData {
  Labels lset;
  std::vector<WindowData> windows;  // usually one or a few
  size_t last = 0;                  // index of the window used last
};

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

void AddSample(SeriesData& s, int64_t window, int64_t t, double v) {
  WindowData* w = nullptr;
  if (s.last < s.windows.size() && s.windows[s.last].window == window) {
    w = &s.windows[s.last];
  } else {
    for (size_t i = 0; i < s.windows.size(); ++i) {
      if (s.windows[i].window == window) {
        w = &s.windows[i];
        s.last = i;
        break;
      }
    }
    if (w == nullptr) {
      s.windows.push_back(WindowData{window, strata::tsdb::block::ChunkCutter(
                                                 strata::tsdb::block::kDefaultChunkRange,
                                                 {.prometheus_2_42 = true}),
                                     false,
                                     {}});
      s.last = s.windows.size() - 1;
      w = &s.windows.back();
    }
  }
  if (w->raw) {
    w->samples.push_back({t, v});
  } else if (w->cutter.empty() || t > w->cutter.last_t()) {
    w->cutter.Append(t, v);
  } else if (t < w->cutter.last_t()) {
    // Out of order: decode what was encoded and continue with raw samples.
    for (const auto& c : w->cutter.Finish()) {
      strata::chunkenc::XorIterator it(c.data);
      while (it.Next()) w->samples.push_back(it.At());
    }
    w->samples.push_back({t, v});
    w->raw = true;
  }
  // t == last: a repeated timestamp; the first sample stays.
}

int CreateBlocks(const std::vector<std::string>& args) {
  if (args.size() != 3 || args[0] != "openmetrics") return Usage();
  const std::string& file = args[1];
  const std::string& outdir = args[2];
  auto& fs = *strata::base::DefaultFileSystem();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail("reading " + file + ": " + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  const int64_t width = strata::tsdb::block::kDefaultChunkRange;

  std::vector<SeriesData> series;
  // Series text as written -> index in `series`; packed label set -> index.
  absl::flat_hash_map<std::string, uint32_t> by_text;
  absl::flat_hash_map<std::string, uint32_t> by_labels;
  std::string prev_text;  // series text of the previous sample line
  uint32_t prev_id = 0;
  LineReader reader(fd);
  std::string_view line;
  std::string err;
  uint64_t lineno = 0;
  bool eof = false;
  auto where = [&]() { return file + ":" + std::to_string(lineno) + ": "; };
  while (reader.Next(&line)) {
    ++lineno;
    if (eof) return Fail(where() + "data after # EOF");
    if (line.empty()) return Fail(where() + "empty line");
    if (line[0] == '#') {
      if (line == "# EOF") eof = true;
      continue;  // # TYPE, # HELP, # UNIT
    }
    uint32_t id;
    size_t end;
    if (!prev_text.empty() && line.size() > prev_text.size() &&
        line[prev_text.size()] == ' ' && line.substr(0, prev_text.size()) == prev_text) {
      id = prev_id;
      end = prev_text.size();
    } else {
      end = SeriesTextEnd(line, &err);
      if (end == 0) return Fail(where() + err);
      if (end >= line.size() || line[end] != ' ') {
        return Fail(where() + "expected a space before the value");
      }
      const std::string_view text = line.substr(0, end);
      auto it = by_text.find(strata::base::ToAbsl(text));
      if (it != by_text.end()) {
        id = it->second;
      } else {
        Labels lset;
        err = ParseSeriesText(text, &lset);
        if (!err.empty()) return Fail(where() + err);
        auto [lit, added] = by_labels.try_emplace(std::string(lset.packed()),
                                                  static_cast<uint32_t>(series.size()));
        if (added) series.push_back(SeriesData{std::move(lset), {}, 0});
        id = lit->second;
        by_text.emplace(std::string(text), id);
      }
      prev_text.assign(text);
      prev_id = id;
    }
    double v = 0;
    int64_t t = 0;
    err = ParseValueAndTime(line.substr(end + 1), &v, &t);
    if (!err.empty()) return Fail(where() + err);
    AddSample(series[id], FloorDiv(t, width), t, v);
  }
  if (!reader.error().empty()) return Fail("reading " + file + ": " + reader.error());
  if (!eof) return Fail(file + ": missing # EOF");
  if (series.empty()) return Fail(file + ": no samples");
  by_text.clear();
  by_labels.clear();
  if (auto s = fs.CreateDirs(outdir); !s.ok()) return Fail(s.ToString());

  // Windows in time order, each with the series that have samples in it.
  std::map<int64_t, std::vector<std::pair<uint32_t, uint32_t>>> windows;  // -> (series, slot)
  for (uint32_t i = 0; i < series.size(); ++i) {
    for (uint32_t j = 0; j < series[i].windows.size(); ++j) {
      windows[series[i].windows[j].window].emplace_back(i, j);
    }
  }
  const bool tty = isatty(STDERR_FILENO) != 0;
  int blocks = 0;
  for (auto& [window, members] : windows) {
    strata::tsdb::block::BlockWriter bw(fs, outdir);
    for (const auto& [si, wi] : members) {
      SeriesData& s = series[si];
      WindowData& w = s.windows[wi];
      absl::Status st;
      if (w.raw) {
        std::stable_sort(w.samples.begin(), w.samples.end(),
                         [](const auto& a, const auto& b) { return a.t < b.t; });
        w.samples.erase(std::unique(w.samples.begin(), w.samples.end(),
                                    [](const auto& a, const auto& b) { return a.t == b.t; }),
                        w.samples.end());
        st = bw.AddSeries(s.lset, std::exchange(w.samples, {}));
      } else {
        st = bw.AddChunks(s.lset, w.cutter.Finish());
      }
      if (!st.ok()) return Fail("series " + s.lset.ToString() + ": " + st.ToString());
    }
    auto meta = bw.Flush();
    if (!meta.ok()) return Fail("writing block in " + outdir + ": " + meta.status().ToString());
    ++blocks;
    if (tty) {
      std::fprintf(stderr, "\rblock %d: %s [%lld, %lld)", blocks, meta->ulid.ToString().c_str(),
                   static_cast<long long>(meta->min_time), static_cast<long long>(meta->max_time));
    }
    (void)window;
  }
  if (tty) std::fprintf(stderr, "\n");
  return 0;
}

int Compact(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage();
  strata::tsdb::DBOptions opts;
  opts.compaction_interval_ms = 0;  // one explicit Compact(), no background thread
  auto db = strata::tsdb::DB::Open(args[0], opts);
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
