// The request a handler receives: context.req (current API) or req (v2 API).
#ifndef OPR_CPP_RUNTIME_REQUEST_H
#define OPR_CPP_RUNTIME_REQUEST_H

#include <json/json.h>

#include <any>
#include <cstddef>
#include <string>
#include <vector>

namespace runtime {
struct RuntimeRequest {
  std::string method;
  std::string scheme;
  std::string host;
  int port = 80;
  std::string path;
  Json::Value query = Json::Value(Json::objectValue);
  std::string queryString;
  Json::Value headers = Json::Value(Json::objectValue);
  // Json::Value for application/json requests ({} when empty), std::string otherwise.
  std::any body;
  std::vector<std::byte> bodyBinary;
  std::string bodyText;
  std::string bodyRaw;  // deprecated alias of bodyText
  // null when the body is empty or not valid JSON (a field cannot throw in C++).
  Json::Value bodyJson;
  std::string url;

  // v2 API (Appwrite 1.0-1.3): body text and the function's environment.
  std::string payload;
  Json::Value variables = Json::Value(Json::objectValue);
};
}  // namespace runtime

#endif  // OPR_CPP_RUNTIME_REQUEST_H
