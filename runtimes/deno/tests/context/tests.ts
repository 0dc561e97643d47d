// Canonical test function (current context API), selected by the `x-action` request header.
// Same actions in every language: see runtimes/README.md.
import { createHash } from "node:crypto";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// deno-lint-ignore no-explicit-any
export default async function (context: any) {
  const { req, res } = context;
  const action = req.headers["x-action"];

  switch (action) {
    case "plaintextResponse":
      return res.text("Hello World 👋");
    case "jsonResponse":
      return res.json({ json: true, message: "Developers are awesome." });
    case "customCharsetResponse":
      return res.text("ÅÆ", 200, { "content-type": "text/plain; charset=iso-8859-1" });
    case "uppercaseCharsetResponse":
      return res.text("ÅÆ", 200, { "content-type": "TEXT/PLAIN" });
    case "multipartResponse":
      return res.text(
        `--12345
Content-Disposition: form-data; name="partOne"

Why just have one part?
--12345
Content-Disposition: form-data; name="partTwo"

When you can have two!
--12345--`,
        200,
        { "content-type": "multipart/form-data; boundary=12345" },
      );
    case "redirectResponse":
      return res.redirect("https://github.com/");
    case "emptyResponse":
      return res.empty();
    case "noResponse":
      res.text("This should be ignored, as it is not returned.");
      return;
    case "doubleResponse":
      res.text("This should be ignored.");
      return res.text("This should be returned.");
    case "enforcedHeaders":
      return res.json({
        "x-custom": req.headers["x-custom"],
        "x-custom-uppercase": req.headers["x-custom-uppercase"],
        "x-open-runtimes-custom": req.headers["x-open-runtimes-custom"],
      });
    case "headersResponse":
      return res.text("OK", 200, {
        "first-header": "first-value",
        "second-header": req.headers["x-open-runtimes-custom-in-header"] ?? "missing",
        cookie: req.headers["cookie"] ?? "missing",
        "x-open-runtimes-custom-out-header": "third-value",
      });
    case "statusResponse":
      return res.text("FAIL", 404);
    case "requestMethod":
      return res.text(req.method);
    case "requestUrl":
      return res.json({
        url: req.url,
        port: req.port,
        path: req.path,
        query: req.query,
        queryString: req.queryString,
        scheme: req.scheme,
        host: req.host,
      });
    case "requestHeaders":
      return res.json(req.headers);
    case "requestBodyText":
      return res.text(req.bodyText);
    case "requestBodyJson":
      return res.json(req.bodyJson);
    case "requestBodyBinary":
      return res.binary(req.bodyBinary);
    case "requestBodyTextAuto":
      return res.text(req.body);
    case "requestBodyJsonAuto":
      return res.json(req.body);
    case "binaryResponse1":
      return res.binary(new Uint8Array([0, 10, 255]));
    case "binaryResponse2":
      return res.binary(new Uint8Array([0, 20, 255]));
    case "binaryResponse3":
      return res.binary(new Uint8Array([0, 30, 255]));
    case "binaryResponse4":
      return res.binary(new Uint8Array([0, 40, 255]));
    case "binaryResponse5":
      return res.binary(new Uint8Array([0, 50, 255]));
    case "binaryResponseLarge":
      return res.text(createHash("md5").update(req.bodyBinary).digest("hex"), 200, { "x-method": req.method });
    case "envVars":
      return res.json({ var: Deno.env.get("CUSTOM_ENV_VAR"), emptyVar: Deno.env.get("NOT_DEFINED_VAR") ?? null });
    case "logs":
      console.log("Native log");
      context.log("Debug log");
      context.error("Error log");
      context.log("Log+With+Plus+Symbol");
      context.log(42);
      context.log(4.2);
      context.log(true);
      context.log({ objectKey: "objectValue" });
      context.log(["arrayValue"]);
      context.log("A".repeat(9000));
      context.error("B".repeat(9000));
      return res.text("");
    case "timeout":
      context.log("Timeout start.");
      await sleep(3000);
      context.log("Timeout end.");
      return res.text("Successful response.");
    case "deprecatedMethods":
      return res.send(req.bodyRaw);
    case "deprecatedMethodsUntypedBody":
      return res.send(50);
    case "spreadOperatorLogs":
      context.log("engine:", "open-runtimes");
      context.error("engine:", "open-runtimes");
      return res.text("OK");
    case "errorTest":
      context.log("Before error...");
      throw new Error("Error!");
    case "largeResponse":
      return res.text("x".repeat(parseInt(req.headers["x-size"] ?? "2000000", 10)));
    case "floodLogs":
      console.log("x".repeat(5 * 1024 * 1024));
      return res.text("OK");
    case "exit":
      Deno.exit(1);
      break;
    case "hang":
      await new Promise(() => {});
      break;
    default:
      throw new Error("Unknown action");
  }
}
