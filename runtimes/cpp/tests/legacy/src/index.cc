// Canonical test function (v2 API, as written for Appwrite 1.0-1.3): a bare static function
// that the build wraps in a Handler class; the action comes from req.headers["x-action"].
#include <iostream>
#include <stdexcept>
#include <string>

static RuntimeResponse &main(const RuntimeRequest &req, RuntimeResponse &res) {
  const std::string action = req.headers["x-action"].asString();

  if (action == "payload") {
    return res.send(req.payload);
  } else if (action == "json") {
    Json::Value body;
    body["ok"] = true;
    body["payload"] = req.payload;
    return res.json(body);
  } else if (action == "variables") {
    return res.json(req.variables);
  } else if (action == "headers") {
    return res.json(req.headers);
  } else if (action == "status") {
    return res.send("teapot", 418);
  } else if (action == "log") {
    std::cout << "legacy log" << std::endl;
    return res.send("ok");
  } else if (action == "throw") {
    throw std::runtime_error("Legacy error");
  }
  throw std::invalid_argument("Unknown action");
}
