/*
  Appwrite 1.0-1.3 function API: a bare static main(req, res), no class around it (the build adds it).
    req.payload    the request body as a std::string ("" when empty)
    req.variables  the function's variables and APPWRITE_FUNCTION_* values (a Json::Value)
    req.headers    the request headers (a Json::Value)
    res.send(text[, status]) and res.json(Json::Value[, status]); the last call wins.
  Anything printed is the execution's log. A thrown exception answers 500.
*/
#include <iostream>
#include <string>

static RuntimeResponse &main(const RuntimeRequest &req, RuntimeResponse &res) {
  if (req.payload == "ping") {
    return res.send("pong");
  }

  std::cout << "Payload: " << req.payload << std::endl;

  Json::Value data;
  data["areDevelopersAwesome"] = true;
  data["payload"] = req.payload;
  data["functionId"] = req.variables["APPWRITE_FUNCTION_ID"].asString();
  return res.json(data);
}
