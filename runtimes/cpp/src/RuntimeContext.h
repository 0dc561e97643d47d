// What a current-API handler receives: `static RuntimeOutput main(RuntimeContext &context)`.
#ifndef OPR_CPP_RUNTIME_CONTEXT_H
#define OPR_CPP_RUNTIME_CONTEXT_H

#include "RuntimeOutput.h"
#include "RuntimeRequest.h"
#include "RuntimeResponse.h"

#include <json/json.h>

#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace runtime {
class RuntimeContext {
 public:
  RuntimeRequest req;
  RuntimeResponse res;
  // Set by the adapter: (isError, message) -> the request's log files.
  std::function<void(bool, const std::string &)> logger;

  // Any number of values, joined by one space: context.log("engine:", "open-runtimes", 42).
  template <typename... Values>
  void log(const Values &...values) { write(false, join(values...)); }

  template <typename... Values>
  void error(const Values &...values) { write(true, join(values...)); }

 private:
  void write(bool isError, const std::string &message) {
    if (logger) logger(isError, message);
  }

  template <typename T>
  static std::string toText(const T &value) {
    if constexpr (std::is_same_v<T, bool>) {
      return value ? "true" : "false";
    } else if constexpr (std::is_convertible_v<const T &, std::string_view>) {
      return std::string(std::string_view(value));
    } else if constexpr (std::is_same_v<T, Json::Value>) {
      return detail::stringify(value);
    } else if constexpr (std::is_floating_point_v<T>) {
      return detail::formatDouble(static_cast<double>(value));
    } else if constexpr (std::is_arithmetic_v<T>) {
      return std::to_string(value);
    } else {
      std::ostringstream stream;
      stream << value;
      return stream.str();
    }
  }

  template <typename... Values>
  static std::string join(const Values &...values) {
    std::string out;
    bool first = true;
    ((out += first ? "" : " ", out += toText(values), first = false), ...);
    return out;
  }
};
}  // namespace runtime

#endif  // OPR_CPP_RUNTIME_CONTEXT_H
