#include "base/json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace strata::base {
namespace {

const std::string& EmptyString() {
  static const std::string* s = new std::string();
  return *s;
}

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 if invalid (Go's
// utf8.DecodeRuneInString rules: shortest form, no surrogates, <= U+10FFFF).
int Utf8Len(std::string_view s, size_t i, uint32_t* rune) {
  const auto c = static_cast<uint8_t>(s[i]);
  auto cont = [&](size_t k) {
    return k < s.size() && (static_cast<uint8_t>(s[k]) & 0xC0) == 0x80;
  };
  if (c < 0x80) {
    *rune = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) {
    *rune = ((c & 0x1Fu) << 6) | (static_cast<uint8_t>(s[i + 1]) & 0x3F);
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF && cont(i + 1) && cont(i + 2)) {
    const uint32_t r = ((c & 0x0Fu) << 12) | ((static_cast<uint8_t>(s[i + 1]) & 0x3Fu) << 6) |
                       (static_cast<uint8_t>(s[i + 2]) & 0x3F);
    if (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF)) return 0;
    *rune = r;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
    const uint32_t r = ((c & 0x07u) << 18) | ((static_cast<uint8_t>(s[i + 1]) & 0x3Fu) << 12) |
                       ((static_cast<uint8_t>(s[i + 2]) & 0x3Fu) << 6) |
                       (static_cast<uint8_t>(s[i + 3]) & 0x3F);
    if (r < 0x10000 || r > 0x10FFFF) return 0;
    *rune = r;
    return 4;
  }
  return 0;
}

void AppendUtf8(std::string* out, uint32_t r) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

constexpr int kMaxDepth = 512;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  absl::StatusOr<Json> Document() {
    Json v;
    if (!Value(&v, 0)) return Error();
    SkipSpace();
    if (pos_ != s_.size()) {
      err_ = "trailing data after the document";
      return Error();
    }
    return v;
  }

 private:
  absl::Status Error() const {
    return absl::InvalidArgumentError(absl::StrCat("json: ", err_, " at offset ", pos_));
  }
  bool Fail(const char* what) {
    err_ = what;
    return false;
  }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return Fail("invalid literal");
    pos_ += lit.size();
    return true;
  }

  bool Value(Json* out, int depth) {
    if (depth > kMaxDepth) return Fail("nesting too deep");
    SkipSpace();
    if (pos_ >= s_.size()) return Fail("unexpected end of input");
    switch (s_[pos_]) {
      case 'n':
        *out = Json();
        return Literal("null");
      case 't':
        *out = Json::Bool(true);
        return Literal("true");
      case 'f':
        *out = Json::Bool(false);
        return Literal("false");
      case '"': {
        std::string str;
        if (!String(&str)) return false;
        *out = Json::String(std::move(str));
        return true;
      }
      case '[':
        return ArrayValue(out, depth);
      case '{':
        return ObjectValue(out, depth);
      default:
        return Number(out);
    }
  }

  bool ArrayValue(Json* out, int depth) {
    ++pos_;  // '['
    *out = Json::Array();
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      Json item;
      if (!Value(&item, depth + 1)) return false;
      out->Push(std::move(item));
      SkipSpace();
      if (pos_ >= s_.size()) return Fail("unexpected end of input in array");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or ']' in array");
    }
  }

  bool ObjectValue(Json* out, int depth) {
    ++pos_;  // '{'
    *out = Json::Object();
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') return Fail("expected a string key in object");
      std::string key;
      if (!String(&key)) return false;
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("expected ':' after object key");
      ++pos_;
      Json v;
      if (!Value(&v, depth + 1)) return false;
      // Keep duplicates as written (no replacement), so that the text round-trips.
      out->mutable_members().emplace_back(std::move(key), std::move(v));
      SkipSpace();
      if (pos_ >= s_.size()) return Fail("unexpected end of input in object");
      if (s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or '}' in object");
    }
  }

  bool Hex4(uint32_t* v) {
    if (s_.size() - pos_ < 4) return Fail("truncated \\u escape");
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_ + i];
      r <<= 4;
      if (c >= '0' && c <= '9') {
        r |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        r |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        r |= c - 'A' + 10;
      } else {
        return Fail("invalid hex digit in \\u escape");
      }
    }
    pos_ += 4;
    *v = r;
    return true;
  }

  bool String(std::string* out) {
    ++pos_;  // '"'
    for (;;) {
      if (pos_ >= s_.size()) return Fail("unterminated string");
      const auto c = static_cast<uint8_t>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("control character in string");
      if (c != '\\') {
        out->push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) return Fail("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t r;
          if (!Hex4(&r)) return false;
          if (r >= 0xD800 && r <= 0xDBFF) {
            // A high surrogate must be followed by an escaped low surrogate; Go replaces a
            // lone surrogate with U+FFFD.
            uint32_t lo = 0;
            if (s_.substr(pos_, 2) == "\\u") {
              const size_t save = pos_;
              pos_ += 2;
              if (!Hex4(&lo)) return false;
              if (lo >= 0xDC00 && lo <= 0xDFFF) {
                r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
              } else {
                pos_ = save;
                r = 0xFFFD;
              }
            } else {
              r = 0xFFFD;
            }
          } else if (r >= 0xDC00 && r <= 0xDFFF) {
            r = 0xFFFD;
          }
          AppendUtf8(out, r);
          break;
        }
        default:
          --pos_;
          return Fail("invalid escape in string");
      }
    }
  }

  bool Number(Json* out) {
    const size_t start = pos_;
    bool is_float = false;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size()) return Fail("invalid number");
    if (s_[pos_] == '0') {
      ++pos_;
    } else if (s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    } else {
      return Fail(start == pos_ ? "unexpected character" : "invalid number");
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      is_float = true;
      ++pos_;
      const size_t digits = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == digits) return Fail("invalid number: no digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      is_float = true;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      const size_t digits = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      if (pos_ == digits) return Fail("invalid number: no exponent digits");
    }
    const char* b = s_.data() + start;
    const char* e = s_.data() + pos_;
    if (!is_float) {
      int64_t iv;
      auto r = std::from_chars(b, e, iv);
      if (r.ec == std::errc() && r.ptr == e) {
        *out = Json::Int(iv);
        return true;
      }
      uint64_t uv;
      r = std::from_chars(b, e, uv);
      if (r.ec == std::errc() && r.ptr == e) {
        *out = Json::Uint(uv);
        return true;
      }
    }
    double dv;
    const auto r = std::from_chars(b, e, dv);
    if (r.ec != std::errc() || r.ptr != e) {
      pos_ = start;
      return Fail("number out of range");
    }
    *out = Json::Double(dv);
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  const char* err_ = "";
};

}  // namespace

Json Json::Bool(bool b) {
  Json j;
  j.type_ = Type::kBool;
  j.b_ = b;
  return j;
}
Json Json::Int(int64_t v) {
  Json j;
  j.type_ = Type::kInt;
  j.i_ = v;
  return j;
}
Json Json::Uint(uint64_t v) {
  if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Int(static_cast<int64_t>(v));
  }
  Json j;
  j.type_ = Type::kUint;
  j.u_ = v;
  return j;
}
Json Json::Double(double v) {
  Json j;
  j.type_ = Type::kDouble;
  j.d_ = v;
  return j;
}
Json Json::String(std::string s) {
  Json j;
  j.type_ = Type::kString;
  j.s_ = std::move(s);
  return j;
}
Json Json::Array(std::vector<Json> items) {
  Json j;
  j.type_ = Type::kArray;
  j.items_ = std::move(items);
  return j;
}
Json Json::Object(std::vector<Member> members) {
  Json j;
  j.type_ = Type::kObject;
  j.members_ = std::move(members);
  return j;
}

int64_t Json::int_value() const {
  if (type_ == Type::kInt) return i_;
  return 0;  // kUint values never fit int64 (Uint() stores those that do as kInt)
}
uint64_t Json::uint_value() const {
  if (type_ == Type::kUint) return u_;
  if (type_ == Type::kInt && i_ >= 0) return static_cast<uint64_t>(i_);
  return 0;
}
double Json::double_value() const {
  switch (type_) {
    case Type::kInt: return static_cast<double>(i_);
    case Type::kUint: return static_cast<double>(u_);
    case Type::kDouble: return d_;
    default: return 0;
  }
}
const std::string& Json::string_value() const {
  return type_ == Type::kString ? s_ : EmptyString();
}
const std::vector<Json>& Json::items() const { return items_; }
std::vector<Json>& Json::mutable_items() { return items_; }
const std::vector<Json::Member>& Json::members() const { return members_; }
std::vector<Json::Member>& Json::mutable_members() { return members_; }

const Json* Json::Find(std::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const auto& m : members_) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

void Json::Set(std::string key, Json value) {
  for (auto& m : members_) {
    if (m.first == key) {
      m.second = std::move(value);
      return;
    }
  }
  members_.emplace_back(std::move(key), std::move(value));
}

void Json::Push(Json value) { items_.push_back(std::move(value)); }

bool operator==(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.type_ != b.type_) return false;
    return a.i_ == b.i_ && a.u_ == b.u_ &&
           (a.d_ == b.d_ || (std::isnan(a.d_) && std::isnan(b.d_)));
  }
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case Json::Type::kNull: return true;
    case Json::Type::kBool: return a.b_ == b.b_;
    case Json::Type::kString: return a.s_ == b.s_;
    case Json::Type::kArray: return a.items_ == b.items_;
    case Json::Type::kObject: return a.members_ == b.members_;
    default: return false;
  }
}

void AppendJsonString(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      // Go's htmlSafeSet: everything printable except '"', '\\', '<', '>', '&'.
      if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
        out->push_back(static_cast<char>(c));
      } else if (c == '"' || c == '\\') {
        out->push_back('\\');
        out->push_back(static_cast<char>(c));
      } else if (c == '\n') {
        out->append("\\n");
      } else if (c == '\r') {
        out->append("\\r");
      } else if (c == '\t') {
        out->append("\\t");
      } else {
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xF]);
      }
      ++i;
      continue;
    }
    uint32_t r = 0;
    const int n = Utf8Len(s, i, &r);
    if (n == 0) {
      out->append("\\ufffd");
      ++i;
      continue;
    }
    if (r == 0x2028 || r == 0x2029) {
      out->append(r == 0x2028 ? "\\u2028" : "\\u2029");
    } else {
      out->append(s.substr(i, n));
    }
    i += n;
  }
  out->push_back('"');
}

std::string FormatJsonFloat(double v) {
  // encoding/json's floatEncoder: shortest round-trip digits, 'e' format when
  // abs < 1e-6 or abs >= 1e21, and "e-07" shortened to "e-7".
  char buf[64];
  const double abs = std::fabs(v);
  const bool exp_form = abs != 0 && (abs < 1e-6 || abs >= 1e21);
  const auto r = std::to_chars(buf, buf + sizeof(buf), v,
                               exp_form ? std::chars_format::scientific
                                        : std::chars_format::fixed);
  std::string s(buf, r.ptr);
  if (exp_form) {
    const size_t n = s.size();
    if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') {
      s[n - 2] = s[n - 1];
      s.pop_back();
    }
  }
  return s;
}

void Json::WriteTo(std::string* out, int depth, bool indent) const {
  auto newline = [&](int d) {
    if (!indent) return;
    out->push_back('\n');
    out->append(static_cast<size_t>(d), '\t');
  };
  switch (type_) {
    case Type::kNull:
      out->append("null");
      break;
    case Type::kBool:
      out->append(b_ ? "true" : "false");
      break;
    case Type::kInt:
      absl::StrAppend(out, i_);
      break;
    case Type::kUint:
      absl::StrAppend(out, u_);
      break;
    case Type::kDouble:
      // Go's encoder refuses NaN and infinities; null keeps the output valid JSON.
      if (std::isfinite(d_)) {
        out->append(FormatJsonFloat(d_));
      } else {
        out->append("null");
      }
      break;
    case Type::kString:
      AppendJsonString(out, s_);
      break;
    case Type::kArray:
      if (items_.empty()) {
        out->append("[]");
        break;
      }
      out->push_back('[');
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) out->push_back(',');
        newline(depth + 1);
        items_[i].WriteTo(out, depth + 1, indent);
      }
      newline(depth);
      out->push_back(']');
      break;
    case Type::kObject:
      if (members_.empty()) {
        out->append("{}");
        break;
      }
      out->push_back('{');
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i > 0) out->push_back(',');
        newline(depth + 1);
        AppendJsonString(out, members_[i].first);
        out->append(indent ? ": " : ":");
        members_[i].second.WriteTo(out, depth + 1, indent);
      }
      newline(depth);
      out->push_back('}');
      break;
  }
}

std::string Json::WriteIndented() const {
  std::string out;
  WriteTo(&out, 0, true);
  return out;
}

std::string Json::Write() const {
  std::string out;
  WriteTo(&out, 0, false);
  return out;
}

absl::StatusOr<Json> ParseJson(std::string_view text) { return Parser(text).Document(); }

}  // namespace strata::base
