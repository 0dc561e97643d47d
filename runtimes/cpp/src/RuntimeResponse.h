// context.res (current API) and res (v2 API) share one type: every helper returns a
// RuntimeOutput value (only the returned one counts) and also remembers the last call,
// which is what a v2 handler's response is ("the last call wins").
#ifndef OPR_CPP_RUNTIME_RESPONSE_H
#define OPR_CPP_RUNTIME_RESPONSE_H

#include "RuntimeOutput.h"

#include <json/json.h>

#include <cstddef>
#include <string>
#include <vector>

namespace runtime {
class RuntimeResponse {
 public:
  RuntimeOutput binary(const std::vector<std::byte> &bytes, int statusCode = 200,
                       const Json::Value &headers = {}) {
    RuntimeOutput output;
    output.body = bytes;
    output.statusCode = statusCode;
    if (headers.isObject()) output.headers = headers;
    output.origin = this;
    last = output;
    lastJson = Json::Value();
    lastIsJson = false;
    return output;
  }

  RuntimeOutput text(const std::string &body, int statusCode = 200, const Json::Value &headers = {}) {
    return binary(detail::bytes(body), statusCode, headers);
  }

  RuntimeOutput json(const Json::Value &json, int statusCode = 200, Json::Value headers = {}) {
    headers["content-type"] = "application/json";
    // A default-constructed Json::Value is how C++ code writes "an empty object".
    RuntimeOutput output = text(json.isNull() ? "{}" : detail::toJson(json), statusCode, headers);
    lastJson = json.isNull() ? Json::Value(Json::objectValue) : json;
    lastIsJson = true;
    return output;
  }

  RuntimeOutput empty() { return text("", 204); }

  RuntimeOutput redirect(const std::string &url, int statusCode = 301, Json::Value headers = {}) {
    headers["location"] = url;
    return text("", statusCode, headers);
  }

  // Deprecated alias of text().
  RuntimeOutput send(const std::string &body, int statusCode = 200, const Json::Value &headers = {}) {
    return text(body, statusCode, headers);
  }

  // Read by the adapter for v2 handlers.
  RuntimeOutput last;
  Json::Value lastJson;
  bool lastIsJson = false;
};

inline RuntimeOutput::operator RuntimeResponse &() const { return *origin; }
}  // namespace runtime

#endif  // OPR_CPP_RUNTIME_RESPONSE_H
