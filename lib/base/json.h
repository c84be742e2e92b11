// A small JSON value, parser and writer for strata's metadata files (block meta.json, the
// Thanos meta section, and later the Prometheus HTTP API).
//
// Never throws. Parse() returns InvalidArgument naming the byte offset of the first error.
// Objects keep their members in insertion (or file) order, because Go's encoding/json
// writes struct fields in declaration order and byte-identical output depends on it.
// Numbers keep their kind: an integer literal that fits int64 (or uint64) stays an integer,
// anything else is a double. WriteIndented() reproduces Go's
// json.MarshalIndent(v, "", "\t") for these values, including its HTML-safe string escaping
// and its float formatting (shortest round-trip, exponent form below 1e-6 and from 1e21).
//
// Thread-safety: a Json value is a plain value type; concurrent const access is safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::base {

class Json {
 public:
  enum class Type { kNull, kBool, kInt, kUint, kDouble, kString, kArray, kObject };
  using Member = std::pair<std::string, Json>;

  Json() = default;  // null
  static Json Bool(bool b);
  static Json Int(int64_t v);
  // Stored as kInt when it fits int64, kUint otherwise.
  static Json Uint(uint64_t v);
  static Json Double(double v);
  static Json String(std::string s);
  static Json Array(std::vector<Json> items = {});
  static Json Object(std::vector<Member> members = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const {
    return type_ == Type::kInt || type_ == Type::kUint || type_ == Type::kDouble;
  }
  // An integer number (kInt or kUint).
  bool is_integer() const { return type_ == Type::kInt || type_ == Type::kUint; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // Accessors return the zero value when the type does not match.
  bool bool_value() const { return type_ == Type::kBool && b_; }
  int64_t int_value() const;    // kInt, or kUint when it fits; 0 otherwise
  uint64_t uint_value() const;  // kUint, or non-negative kInt; 0 otherwise
  double double_value() const;  // any number
  const std::string& string_value() const;
  const std::vector<Json>& items() const;
  std::vector<Json>& mutable_items();
  const std::vector<Member>& members() const;
  std::vector<Member>& mutable_members();

  // The member named `key` of an object, or null if absent or not an object. The pointer is
  // valid until the object is modified.
  const Json* Find(std::string_view key) const;
  // Appends a member (an existing member with the same key is replaced in place).
  // Requires: is_object().
  void Set(std::string key, Json value);
  // Appends to an array. Requires: is_array().
  void Push(Json value);

  // Go's json.MarshalIndent(v, "", "\t"): no trailing newline.
  std::string WriteIndented() const;
  // Go's json.Marshal: compact.
  std::string Write() const;

  friend bool operator==(const Json& a, const Json& b);

 private:
  void WriteTo(std::string* out, int depth, bool indent) const;

  Type type_ = Type::kNull;
  bool b_ = false;
  int64_t i_ = 0;
  uint64_t u_ = 0;
  double d_ = 0;
  std::string s_;
  std::vector<Json> items_;
  std::vector<Member> members_;
};

// Parses one JSON document (RFC 8259; surrounding whitespace allowed). Returns
// InvalidArgument "json: <what> at offset N" for malformed input, nesting deeper than 512,
// invalid UTF-8 escapes or trailing data. Duplicate object keys are kept as written.
absl::StatusOr<Json> ParseJson(std::string_view text);

// Appends `s` as a Go-encoded JSON string (quotes included; <, >, & and U+2028/U+2029
// escaped as \u003c ..., invalid UTF-8 replaced by U+FFFD), as encoding/json does.
void AppendJsonString(std::string* out, std::string_view s);

// Go's formatting of a float64 in encoding/json. Requires: finite `v`.
std::string FormatJsonFloat(double v);

}  // namespace strata::base
