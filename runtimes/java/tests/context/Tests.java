package io.openruntimes.java;

// Canonical test function (current context API), selected by the `x-action` request header.
// Same actions in every language: see runtimes/README.md. Official test layout: Tests.java at
// the root is class io.openruntimes.java.Tests.

import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public class Tests {
  public RuntimeOutput main(RuntimeContext context) throws Exception {
    RuntimeRequest req = context.getReq();
    RuntimeResponse res = context.getRes();
    String action = req.getHeaders().getOrDefault("x-action", "");
    Map<String, Object> json = new HashMap<>();
    Map<String, String> headers = new HashMap<>();

    switch (action) {
      case "plaintextResponse":
        return res.text("Hello World 👋");
      case "jsonResponse":
        json.put("json", true);
        json.put("message", "Developers are awesome.");
        return res.json(json);
      case "customCharsetResponse":
        headers.put("content-type", "text/plain; charset=iso-8859-1");
        return res.text("ÅÆ", 200, headers);
      case "uppercaseCharsetResponse":
        headers.put("content-type", "TEXT/PLAIN");
        return res.text("ÅÆ", 200, headers);
      case "multipartResponse":
        headers.put("content-type", "multipart/form-data; boundary=12345");
        return res.text("--12345\n"
            + "Content-Disposition: form-data; name=\"partOne\"\n"
            + "\n"
            + "Why just have one part?\n"
            + "--12345\n"
            + "Content-Disposition: form-data; name=\"partTwo\"\n"
            + "\n"
            + "When you can have two!\n"
            + "--12345--", 200, headers);
      case "redirectResponse":
        return res.redirect("https://github.com/");
      case "emptyResponse":
        return res.empty();
      case "noResponse":
        res.text("This should be ignored, as it is not returned.");
        return null;
      case "doubleResponse":
        res.text("This should be ignored.");
        return res.text("This should be returned.");
      case "enforcedHeaders":
        json.put("x-custom", req.getHeaders().get("x-custom"));
        json.put("x-custom-uppercase", req.getHeaders().get("x-custom-uppercase"));
        json.put("x-open-runtimes-custom", req.getHeaders().get("x-open-runtimes-custom"));
        return res.json(json);
      case "headersResponse":
        headers.put("first-header", "first-value");
        headers.put("second-header", req.getHeaders().getOrDefault("x-open-runtimes-custom-in-header", "missing"));
        headers.put("cookie", req.getHeaders().getOrDefault("cookie", "missing"));
        headers.put("x-open-runtimes-custom-out-header", "third-value");
        return res.text("OK", 200, headers);
      case "statusResponse":
        return res.text("FAIL", 404);
      case "requestMethod":
        return res.text(req.getMethod());
      case "requestUrl":
        json.put("url", req.getUrl());
        json.put("port", req.getPort());
        json.put("path", req.getPath());
        json.put("query", req.getQuery());
        json.put("queryString", req.getQueryString());
        json.put("scheme", req.getScheme());
        json.put("host", req.getHost());
        return res.json(json);
      case "requestHeaders":
        return res.json(req.getHeaders());
      case "requestBodyText":
        return res.text(req.getBodyText());
      case "requestBodyJson":
        return res.json(req.getBodyJson());
      case "requestBodyBinary":
        return res.binary(req.getBodyBinary());
      case "requestBodyTextAuto":
        return res.text((String) req.getBody());
      case "requestBodyJsonAuto":
        @SuppressWarnings("unchecked")
        Map<String, Object> body = (Map<String, Object>) req.getBody();
        return res.json(body);
      case "binaryResponse1":
        return res.binary(new byte[] {0, 10, (byte) 255});
      case "binaryResponse2":
        return res.binary(new byte[] {0, 20, (byte) 255});
      case "binaryResponse3":
        return res.binary(new byte[] {0, 30, (byte) 255});
      case "binaryResponse4":
        return res.binary(new byte[] {0, 40, (byte) 255});
      case "binaryResponse5":
        return res.binary(new byte[] {0, 50, (byte) 255});
      case "binaryResponseLarge":
        StringBuilder hex = new StringBuilder();
        for (byte b : MessageDigest.getInstance("MD5").digest(req.getBodyBinary())) {
          hex.append(String.format("%02x", b));
        }
        headers.put("x-method", req.getMethod());
        return res.text(hex.toString(), 200, headers);
      case "envVars":
        json.put("var", System.getenv("CUSTOM_ENV_VAR"));
        json.put("emptyVar", System.getenv("NOT_DEFINED_VAR"));
        return res.json(json);
      case "logs":
        System.out.println("Native log");
        context.log("Debug log");
        context.error("Error log");
        context.log("Log+With+Plus+Symbol");
        context.log(42);
        context.log(4.2);
        context.log(true);
        Map<String, String> object = new HashMap<>();
        object.put("objectKey", "objectValue");
        context.log(object);
        List<String> array = new ArrayList<>();
        array.add("arrayValue");
        context.log(array);
        context.log("A".repeat(9000));
        context.error("B".repeat(9000));
        return res.text("");
      case "timeout":
        context.log("Timeout start.");
        Thread.sleep(3000);
        context.log("Timeout end.");
        return res.text("Successful response.");
      case "deprecatedMethods":
        return res.send(req.getBodyRaw());
      case "deprecatedMethodsUntypedBody":
        return res.send(String.valueOf(50));
      case "spreadOperatorLogs":
        context.log("engine:", "open-runtimes");
        context.error("engine:", "open-runtimes");
        return res.text("OK");
      case "errorTest":
        context.log("Before error...");
        throw new Exception("Error!");
      case "largeResponse":
        int size = Integer.parseInt(req.getHeaders().getOrDefault("x-size", "2000000"));
        return res.text("x".repeat(size));
      case "floodLogs":
        System.out.println("x".repeat(5 * 1024 * 1024));
        return res.text("OK");
      case "exit":
        System.exit(1);
        return null;
      case "hang":
        Thread.sleep(Long.MAX_VALUE);
        return null;
      default:
        throw new Exception("Unknown action");
    }
  }
}
