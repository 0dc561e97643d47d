#include "../RuntimeResponse.h"
#include "../RuntimeRequest.h"
#include "../RuntimeOutput.h"
#include "../RuntimeContext.h"

namespace runtime {
class Handler {
 public:
  // Runs once per execution. One parameter, the context: req, res, log() and error().
  static RuntimeOutput main(RuntimeContext &context) {
    // log() and error() end up in the execution's logs and errors; the caller never sees them.
    context.log("Starter function called on " + context.req.path);
    context.error("Example error entry (from context.error)");

    if (context.req.path == "/ping") {
      // A handler must return one of the res helpers: text(), json(), binary(), redirect(), empty().
      return context.res.text("Pong");
    }

    Json::Value json;
    json["motto"] = "Build like a team of hundreds_";
    json["learn"] = "https://appwrite.io/docs";
    json["connect"] = "https://appwrite.io/discord";
    json["getInspired"] = "https://builtwith.appwrite.io";
    return context.res.json(json);
  }
};
}  // namespace runtime
