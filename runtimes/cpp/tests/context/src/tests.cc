// Canonical test function (current API): the actions of runtimes/README.md, chosen by x-action.
#include "../RuntimeResponse.h"
#include "../RuntimeRequest.h"
#include "../RuntimeOutput.h"
#include "../RuntimeContext.h"

#include <any>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace runtime {
class Handler {
 public:
  static RuntimeOutput main(RuntimeContext &context) {
    RuntimeRequest &req = context.req;
    RuntimeResponse &res = context.res;
    Json::Value headers(Json::objectValue);
    Json::Value json(Json::objectValue);
    const std::string action = req.headers.get("x-action", "").asString();

    if (action == "plaintextResponse") {
      return res.text("Hello World 👋");
    } else if (action == "jsonResponse") {
      json["json"] = true;
      json["message"] = "Developers are awesome.";
      return res.json(json);
    } else if (action == "customCharsetResponse") {
      headers["content-type"] = "text/plain; charset=iso-8859-1";
      return res.text("ÅÆ", 200, headers);
    } else if (action == "uppercaseCharsetResponse") {
      headers["content-type"] = "TEXT/PLAIN";
      return res.text("ÅÆ", 200, headers);
    } else if (action == "multipartResponse") {
      headers["content-type"] = "multipart/form-data; boundary=12345";
      return res.text(
          "--12345\n"
          "Content-Disposition: form-data; name=\"partOne\"\n"
          "\n"
          "Why just have one part?\n"
          "--12345\n"
          "Content-Disposition: form-data; name=\"partTwo\"\n"
          "\n"
          "When you can have two!\n"
          "--12345--",
          200, headers);
    } else if (action == "redirectResponse") {
      return res.redirect("https://github.com/");
    } else if (action == "emptyResponse") {
      return res.empty();
    } else if (action == "noResponse") {
      res.text("This should be ignored, as it is not returned.");
      return {};  // C++ must return something: an empty RuntimeOutput means "nothing returned"
    } else if (action == "doubleResponse") {
      res.text("This should be ignored.");
      return res.text("This should be returned.");
    } else if (action == "enforcedHeaders") {
      json["x-custom"] = req.headers["x-custom"];
      json["x-custom-uppercase"] = req.headers["x-custom-uppercase"];
      json["x-open-runtimes-custom"] = req.headers["x-open-runtimes-custom"];
      return res.json(json);
    } else if (action == "headersResponse") {
      headers["first-header"] = "first-value";
      headers["second-header"] = req.headers.get("x-open-runtimes-custom-in-header", "missing");
      headers["cookie"] = req.headers.get("cookie", "missing");
      headers["x-open-runtimes-custom-out-header"] = "third-value";
      return res.text("OK", 200, headers);
    } else if (action == "statusResponse") {
      return res.text("FAIL", 404);
    } else if (action == "requestMethod") {
      return res.text(req.method);
    } else if (action == "requestUrl") {
      json["url"] = req.url;
      json["port"] = req.port;
      json["path"] = req.path;
      json["query"] = req.query;
      json["queryString"] = req.queryString;
      json["scheme"] = req.scheme;
      json["host"] = req.host;
      return res.json(json);
    } else if (action == "requestHeaders") {
      return res.json(req.headers);
    } else if (action == "requestBodyText") {
      return res.text(req.bodyText);
    } else if (action == "requestBodyJson") {
      // bodyJson is null when the body is not JSON; fail the way other runtimes' parsers do.
      if (req.bodyJson.isNull() && req.bodyText != "null") {
        throw std::invalid_argument("Invalid json in request body: " + req.bodyText);
      }
      return res.json(req.bodyJson);
    } else if (action == "requestBodyBinary") {
      return res.binary(req.bodyBinary);
    } else if (action == "requestBodyTextAuto") {
      return res.text(std::any_cast<std::string>(req.body));
    } else if (action == "requestBodyJsonAuto") {
      return res.json(std::any_cast<Json::Value>(req.body));
    } else if (action.rfind("binaryResponse", 0) == 0 && action.size() == 15 && action[14] >= '1' &&
               action[14] <= '5') {
      int n = (action[14] - '0') * 10;
      return res.binary({std::byte{0}, std::byte(n), std::byte{255}});
    } else if (action == "binaryResponseLarge") {
      headers["x-method"] = req.method;
      return res.send(md5Hex(req.bodyBinary), 200, headers);
    } else if (action == "envVars") {
      const char *var = std::getenv("CUSTOM_ENV_VAR");
      const char *emptyVar = std::getenv("NOT_DEFINED_VAR");
      json["var"] = var ? Json::Value(var) : Json::Value();
      json["emptyVar"] = emptyVar ? Json::Value(emptyVar) : Json::Value();
      return res.json(json);
    } else if (action == "logs") {
      std::cout << "Native log" << std::endl;
      context.log("Debug log");
      context.error("Error log");
      context.log("Log+With+Plus+Symbol");
      context.log(42);
      context.log(4.2);
      context.log(true);
      Json::Value object;
      object["objectKey"] = "objectValue";
      context.log(object);
      Json::Value array(Json::arrayValue);
      array.append("arrayValue");
      context.log(array);
      context.log(std::string(9000, 'A'));
      context.error(std::string(9000, 'B'));
      return res.text("");
    } else if (action == "timeout") {
      context.log("Timeout start.");
      std::this_thread::sleep_for(std::chrono::seconds(3));
      context.log("Timeout end.");
      return res.text("Successful response.");
    } else if (action == "deprecatedMethods") {
      return res.send(req.bodyRaw);
    } else if (action == "deprecatedMethodsUntypedBody") {
      return res.send(std::to_string(50));
    } else if (action == "spreadOperatorLogs") {
      context.log("engine:", "open-runtimes");
      context.error("engine:", "open-runtimes");
      return res.text("OK");
    } else if (action == "errorTest") {
      context.log("Before error...");
      throw std::runtime_error("Error!");
    } else if (action == "largeResponse") {
      std::string size = req.headers.get("x-size", "2000000").asString();
      return res.text(std::string(std::stoul(size), 'A'));
    } else if (action == "floodLogs") {
      std::string line(1023, 'x');
      for (int i = 0; i < 5 * 1024; i++) std::cout << line << '\n';
      std::cout.flush();
      return res.text("OK");
    } else if (action == "exit") {
      std::exit(1);
    } else if (action == "hang") {
      while (true) std::this_thread::sleep_for(std::chrono::hours(1));
    }
    throw std::invalid_argument("Unknown action");
  }

  // RFC 1321, so the test needs nothing beyond jsoncpp.
  static std::string md5Hex(const std::vector<std::byte> &input) {
    static const uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
    static const int R[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                              5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                              4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                              6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    std::vector<uint8_t> msg(input.size());
    for (size_t i = 0; i < input.size(); i++) msg[i] = static_cast<uint8_t>(input[i]);
    uint64_t bits = static_cast<uint64_t>(msg.size()) * 8;
    msg.push_back(0x80);
    while (msg.size() % 64 != 56) msg.push_back(0);
    for (int i = 0; i < 8; i++) msg.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    for (size_t chunk = 0; chunk < msg.size(); chunk += 64) {
      uint32_t w[16];
      for (int i = 0; i < 16; i++) {
        const uint8_t *p = &msg[chunk + i * 4];
        w[i] = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
      }
      uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
      for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
          f = (b & c) | (~b & d);
          g = i;
        } else if (i < 32) {
          f = (d & b) | (~d & c);
          g = (5 * i + 1) % 16;
        } else if (i < 48) {
          f = b ^ c ^ d;
          g = (3 * i + 5) % 16;
        } else {
          f = c ^ (b | ~d);
          g = (7 * i) % 16;
        }
        uint32_t rotated = a + f + K[i] + w[g];
        a = d;
        d = c;
        c = b;
        b = b + ((rotated << R[i]) | (rotated >> (32 - R[i])));
      }
      h[0] += a;
      h[1] += b;
      h[2] += c;
      h[3] += d;
    }
    char out[33];
    for (int i = 0; i < 16; i++) std::snprintf(out + i * 2, 3, "%02x", (h[i / 4] >> (8 * (i % 4))) & 0xff);
    return std::string(out, 32);
  }
};
}  // namespace runtime
