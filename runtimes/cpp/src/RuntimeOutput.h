// The value a handler returns; built by the RuntimeResponse helpers.
#ifndef OPR_CPP_RUNTIME_OUTPUT_H
#define OPR_CPP_RUNTIME_OUTPUT_H

#include <json/json.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace runtime {
class RuntimeResponse;

struct RuntimeOutput {
  std::vector<std::byte> body;
  // 0 means nothing was returned (`return {};`), reported as "Return statement missing."
  int statusCode = 0;
  Json::Value headers = Json::Value(Json::objectValue);
  // Lets a v2 handler (`RuntimeResponse &main(...)`) keep writing `return res.json(x);`.
  RuntimeResponse *origin = nullptr;
  operator RuntimeResponse &() const;
};

namespace detail {
// jsoncpp's writers print doubles with 17 digits (4.2 -> 4.2000000000000002) and escape
// non-ASCII; functions expect JavaScript-like compact JSON, so serialise by hand.
inline std::string formatDouble(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[40];
  for (int precision = 15; precision <= 17; precision++) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

inline void writeString(std::string &out, const std::string &text) {
  static const char *hex = "0123456789abcdef";
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

inline void writeJson(std::string &out, const Json::Value &value) {
  switch (value.type()) {
    case Json::nullValue: out += "null"; break;
    case Json::intValue: out += std::to_string(value.asLargestInt()); break;
    case Json::uintValue: out += std::to_string(value.asLargestUInt()); break;
    case Json::realValue: out += formatDouble(value.asDouble()); break;
    case Json::stringValue: writeString(out, value.asString()); break;
    case Json::booleanValue: out += value.asBool() ? "true" : "false"; break;
    case Json::arrayValue: {
      out += '[';
      for (Json::ArrayIndex i = 0; i < value.size(); i++) {
        if (i) out += ',';
        writeJson(out, value[i]);
      }
      out += ']';
      break;
    }
    case Json::objectValue: {
      out += '{';
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!first) out += ',';
        first = false;
        writeString(out, it.name());
        out += ':';
        writeJson(out, *it);
      }
      out += '}';
      break;
    }
  }
}

inline std::string toJson(const Json::Value &value) {
  std::string out;
  writeJson(out, value);
  return out;
}

// Strings log as themselves, everything else as JSON (like console.log of objects).
inline std::string stringify(const Json::Value &value) {
  return value.isString() ? value.asString() : toJson(value);
}

inline std::vector<std::byte> bytes(const std::string &text) {
  const auto *data = reinterpret_cast<const std::byte *>(text.data());
  return std::vector<std::byte>(data, data + text.size());
}
}  // namespace detail
}  // namespace runtime

#endif  // OPR_CPP_RUNTIME_OUTPUT_H
