package io.openruntimes.core;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The executor-facing side shared by the JVM adapters (Java, Kotlin): v5 wire by default, v2 wire
 * when INTERNAL_RUNTIME_KEY is set. JDK-only ({@link HttpServer}). Each call runs on the thread of
 * the connection that asked for it; past a soft timeout the {@link Watchdog} answers in its place.
 */
public final class HttpCore {
  static final String TIMEOUT_INVALID = "Header \"x-open-runtimes-timeout\" must be an integer greater than 0.";
  static final String UNAUTHORIZED = "Unauthorized. Provide correct \"x-open-runtimes-secret\" header.";
  static final String TIMED_OUT = "Execution timed out.";
  static final String NO_RETURN =
      "Return statement missing. return context.res.empty() if no response is expected.";

  private final Config config;
  private final Function.Loader loader;
  private volatile Function cached;

  private HttpCore(Config config, Function.Loader loader) {
    this.config = config;
    this.loader = loader;
  }

  /** Starts the server; the process then lives until it is killed (or the function exits it). */
  public static void serve(Function.Loader loader, String defaultEntrypoint) throws IOException {
    NativeOutput.install();
    Config config = Config.fromEnvironment(defaultEntrypoint);
    HttpCore core = new HttpCore(config, loader);
    try {
      core.function();
    } catch (Function.LoadError e) {
      // reported to the errors file of each request until the entrypoint loads
    }
    HttpServer.start(config.host, config.port, core::handle);
    NativeOutput.original().println("HTTP server successfully started!");
  }

  // ---------------------------------------------------------------- request / context

  private Map<String, String> functionHeaders(Map<String, String> incoming) {
    Map<String, String> headers = new LinkedHashMap<>();
    for (Map.Entry<String, String> entry : incoming.entrySet()) {
      if (!entry.getKey().startsWith("x-open-runtimes-")) {
        headers.put(entry.getKey(), entry.getValue());
      }
    }
    headers.putAll(config.enforcedHeaders);
    return headers;
  }

  /** Path and query of the request target; the origin form of an absolute one. */
  static String target(String raw) {
    if (raw.startsWith("/")) {
      return raw;
    }
    int scheme = raw.indexOf("://");
    int from = scheme < 0 ? 0 : scheme + 3;
    int path = raw.indexOf('/', from);
    int query = raw.indexOf('?', from);
    int start = path < 0 ? query : query < 0 ? path : Math.min(path, query);
    return start < 0 ? "/" : raw.charAt(start) == '/' ? raw.substring(start) : "/" + raw.substring(start);
  }

  // ---------------------------------------------------------------- response

  /** Lower-cased MIME type, {@code ; charset=utf-8} unless multipart or a charset is given. */
  static String contentType(String value) {
    String type = value == null || value.trim().isEmpty() ? "text/plain" : value;
    int semi = type.indexOf(';');
    String mime = (semi < 0 ? type : type.substring(0, semi)).trim().toLowerCase();
    type = mime + (semi < 0 ? "" : type.substring(semi));
    if (!mime.startsWith("multipart/") && !type.toLowerCase().contains("charset=")) {
      type += "; charset=utf-8";
    }
    return type;
  }

  private static void sendPlain(HttpServer.Exchange exchange, int status, String text) throws IOException {
    Map<String, String> headers = new HashMap<>();
    headers.put("content-type", "text/plain; charset=utf-8");
    exchange.respond(status, headers, text.getBytes(StandardCharsets.UTF_8), false);
  }

  private static void sendJson(HttpServer.Exchange exchange, int status, Map<String, Object> value, boolean close)
      throws IOException {
    Map<String, String> headers = new HashMap<>();
    headers.put("content-type", "application/json");
    exchange.respond(status, headers, Json.encode(value).getBytes(StandardCharsets.UTF_8), close);
  }

  /** The function's headers as sent: lower-cased keys, x-open-runtimes-* dropped. */
  private static Map<String, String> responseHeaders(Output output, String logId) {
    Map<String, String> headers = new LinkedHashMap<>();
    if (output.headers != null) {
      for (Map.Entry<String, String> entry : output.headers.entrySet()) {
        String key = String.valueOf(entry.getKey()).toLowerCase().trim();
        if (!key.startsWith("x-open-runtimes-")) {
          headers.put(key, String.valueOf(entry.getValue()));
        }
      }
    }
    headers.put("content-type", contentType(headers.get("content-type")));
    headers.put("x-open-runtimes-log-id", logId);
    return headers;
  }

  /** Why the server cannot send this output as given, or null. */
  private static String invalidOutput(int status, Map<String, String> headers) {
    if (status < 100 || status > 999) {
      return "Invalid status code " + status + " returned by the function.";
    }
    for (Map.Entry<String, String> entry : headers.entrySet()) {
      String key = entry.getKey();
      String value = entry.getValue();
      if (!validHeaderName(key) || value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0) {
        return "Invalid response header '" + key + "' returned by the function.";
      }
    }
    return null;
  }

  /** Not empty, no whitespace, control character or colon. */
  private static boolean validHeaderName(String key) {
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (c <= ' ' || c == ':') {
        return false;
      }
    }
    return !key.isEmpty();
  }

  // ---------------------------------------------------------------- loader

  private Function function() throws Function.LoadError {
    Function loaded = cached;
    return loaded != null ? loaded : load();
  }

  private synchronized Function load() throws Function.LoadError {
    if (cached != null) {
      return cached;
    }
    if (!new File(config.codeDir, config.entrypoint).isFile()) {
      throw new Function.LoadError("Failed to load entrypoint, file " + config.entrypoint + " does not exist.");
    }
    try {
      cached = loader.load(config.entrypoint);
    } catch (RuntimeException | LinkageError e) {
      // e.g. main's signature names a class missing at run time
      throw new Function.LoadError("Failed to load module: " + trace(e));
    }
    return cached;
  }

  /** A stack trace without the adapter's own frames below the function's. */
  public static String trace(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      StackTraceElement[] frames = t.getStackTrace();
      int keep = frames.length;
      while (keep > 0 && isAdapterFrame(frames[keep - 1])) {
        keep--;
      }
      if (keep > 0 && keep < frames.length) {
        t.setStackTrace(Arrays.copyOf(frames, keep));
      }
      if (t.getCause() == t) {
        break;
      }
    }
    StringWriter out = new StringWriter();
    error.printStackTrace(new PrintWriter(out));
    return out.toString();
  }

  private static boolean isAdapterFrame(StackTraceElement frame) {
    String name = frame.getClassName();
    return name.startsWith("java.") || name.startsWith("jdk.") || name.startsWith("sun.")
        || name.startsWith("kotlin.coroutines.") || name.startsWith("io.openruntimes.core.")
        || name.startsWith("io.openruntimes.java.Server") || name.startsWith("io.openruntimes.kotlin.Server");
  }

  /**
   * Runs the call on this thread with native output bound to its logger. With a timeout,
   * `onTimeout` answers in its place (on the watchdog's thread) once it passes, and this throws
   * {@link HttpServer.Answered} when the function ends, however it ends.
   */
  private static Output run(Function function, Request request, Logger logger, int timeoutSeconds,
      Runnable onTimeout) throws Throwable {
    Watchdog.Call watched = timeoutSeconds > 0 ? Watchdog.watch(timeoutSeconds, onTimeout) : null;
    NativeOutput.bind(logger);
    Output output;
    try {
      output = function.call(request, logger);
    } catch (Throwable error) {
      if (watched != null && !watched.finish()) {
        throw new HttpServer.Answered();
      }
      throw error;
    } finally {
      NativeOutput.unbind();
    }
    if (watched != null && !watched.finish()) {
      throw new HttpServer.Answered();
    }
    return output;
  }

  // ---------------------------------------------------------------- server

  private void handle(HttpServer.Exchange exchange) throws Exception {
    if (config.v2Key.isEmpty()) {
      handleV5(exchange);
    } else {
      handleV2(exchange);
    }
  }

  /** The answer to a timed-out call, on the watchdog's thread, which then closes the connection. */
  private static Runnable timeoutReply(HttpServer.Exchange exchange, Answer answer) {
    return () -> {
      try {
        answer.send();
      } catch (IOException e) {
        // the client is gone
      } finally {
        exchange.close();
      }
    };
  }

  private interface Answer {
    void send() throws IOException;
  }

  private void handleV5(HttpServer.Exchange exchange) throws IOException, HttpServer.Answered {
    Map<String, String> incoming = exchange.headers;
    String method = exchange.method;
    String target = target(exchange.target);
    if ("GET".equals(method) && (target.equals("/__opr/health") || target.startsWith("/__opr/health?"))) {
      sendPlain(exchange, 200, "OK");
      return;
    }

    int timeout = timeoutSeconds(incoming.get("x-open-runtimes-timeout"));
    if (timeout < 0) {
      sendPlain(exchange, 500, TIMEOUT_INVALID);
      return;
    }

    if (!config.secret.isEmpty() && !config.secret.equals(incoming.get("x-open-runtimes-secret"))) {
      sendPlain(exchange, 500, UNAUTHORIZED);
      return;
    }

    byte[] body = exchange.body;
    if (body == null) {
      sendPlain(exchange, 413, ""); // the connection closes after it
      return;
    }

    Logger logger = Logger.forRequest(config, incoming.get("x-open-runtimes-logging"),
        incoming.get("x-open-runtimes-log-id"));
    Output output;
    try {
      Function function = function();
      Map<String, String> headers = functionHeaders(incoming);
      Request request = new Request(method, incoming.getOrDefault("x-forwarded-proto", "http"),
          incoming.getOrDefault("host", ""), target, headers, body,
          function.legacy() ? legacyVariables(headers, body) : System.getenv());
      output = run(function, request, logger, timeout,
          timeoutReply(exchange, () -> reply(exchange, logger, failure(logger, 500, TIMED_OUT), true)));
      if (output == null) {
        output = failure(logger, 500, NO_RETURN);
      }
    } catch (Function.LoadError e) {
      output = failure(logger, 503, e.getMessage());
    } catch (HttpServer.Answered e) {
      throw e;
    } catch (Throwable error) {
      output = failure(logger, 500, trace(error));
    }
    reply(exchange, logger, output, false);
  }

  /** Sends a v5 call's output (a 500 instead when it cannot be sent as given), its logs written first. */
  private static void reply(HttpServer.Exchange exchange, Logger logger, Output output, boolean close)
      throws IOException {
    Map<String, String> headers = responseHeaders(output, logger.id());
    String invalid = invalidOutput(output.status, headers);
    if (invalid != null) {
      output = failure(logger, 500, invalid);
      headers = responseHeaders(output, logger.id());
    }
    logger.close();
    exchange.respond(output.status, headers, output.body, close);
  }

  /** x-open-runtimes-timeout in seconds: 0 when absent, -1 when not a positive integer. */
  static int timeoutSeconds(String header) {
    if (header == null || header.isEmpty()) {
      return 0;
    }
    long seconds = 0;
    for (int i = 0; i < header.length(); i++) {
      char c = header.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      // more digits than an int holds is still "a positive integer": effectively no limit
      seconds = Math.min(seconds * 10 + (c - '0'), Integer.MAX_VALUE);
    }
    return seconds > 0 ? (int) seconds : -1;
  }

  /**
   * The environment plus the per-execution variables of the v2 era, taken from the request
   * because a warm process's environment cannot change per call (runtimes/README.md).
   */
  private static Map<String, String> legacyVariables(Map<String, String> headers, byte[] body) {
    Map<String, String> variables = new LinkedHashMap<>(System.getenv());
    String payload = new String(body, StandardCharsets.UTF_8);
    String event = headers.getOrDefault("x-appwrite-event", "");
    variables.put("APPWRITE_FUNCTION_TRIGGER", headers.getOrDefault("x-appwrite-trigger", ""));
    variables.put("APPWRITE_FUNCTION_EVENT", event);
    variables.put("APPWRITE_FUNCTION_EVENT_DATA", event.isEmpty() ? "" : payload);
    variables.put("APPWRITE_FUNCTION_DATA", payload);
    variables.put("APPWRITE_FUNCTION_USER_ID", headers.getOrDefault("x-appwrite-user-id", ""));
    variables.put("APPWRITE_FUNCTION_JWT", headers.getOrDefault("x-appwrite-user-jwt", ""));
    return variables;
  }

  private static Output failure(Logger logger, int status, String message) {
    logger.raw(true, message);
    return new Output(status, new HashMap<>(), new byte[0], null);
  }

  private void handleV2(HttpServer.Exchange exchange) throws IOException, HttpServer.Answered {
    Map<String, String> incoming = exchange.headers;
    byte[] raw = exchange.body;
    if (!config.v2Key.equals(incoming.get("x-internal-challenge"))) {
      Map<String, Object> reply = new LinkedHashMap<>();
      reply.put("stderr", "Unauthorized");
      sendJson(exchange, 500, reply, false);
      return;
    }

    Map<?, ?> data = new HashMap<>();
    try {
      Object parsed = raw == null ? null : Json.parse(new String(raw, StandardCharsets.UTF_8));
      if (parsed instanceof Map) {
        data = (Map<?, ?>) parsed;
      }
    } catch (Json.JsonException e) {
      // Appwrite always sends JSON; anything else runs with an empty payload
    }
    Object payloadValue = data.get("payload");
    String payload = payloadValue == null ? "" : payloadValue instanceof String
        ? (String) payloadValue : Json.encode(payloadValue);
    Map<String, String> variables = stringMap(data.get("variables"), false);
    Map<String, String> headers = stringMap(data.get("headers"), true);
    Object timeoutValue = data.get("timeout");
    int timeout = timeoutValue instanceof Number ? Math.max(0, ((Number) timeoutValue).intValue()) : 0;

    Logger logger = Logger.collecting();
    Map<String, Object> reply = new LinkedHashMap<>();
    int status;
    try {
      Function function = function();
      Request request = new Request("POST", "http", incoming.getOrDefault("host", ""), target(exchange.target),
          headers, payload.getBytes(StandardCharsets.UTF_8), variables);
      Output output = run(function, request, logger, timeout, timeoutReply(exchange, () -> {
        logger.raw(true, TIMED_OUT);
        replyV2(exchange, logger, new LinkedHashMap<>(), 500, true);
      }));
      if (output == null) {
        logger.raw(true, NO_RETURN);
        status = 500;
      } else {
        status = output.status;
        // a context-API function on the v2 wire answers with its body text
        reply.put("response", function.legacy()
            ? (output.value == null ? "" : output.value)
            : new String(output.body, StandardCharsets.UTF_8));
      }
    } catch (Function.LoadError e) {
      logger.raw(true, e.getMessage());
      status = 500;
    } catch (HttpServer.Answered e) {
      throw e;
    } catch (Throwable error) {
      logger.raw(true, trace(error));
      status = 500;
    }
    replyV2(exchange, logger, reply, status, false);
  }

  /** The v2 reply: `reply` plus the call's stdout and stderr. */
  private static void replyV2(HttpServer.Exchange exchange, Logger logger, Map<String, Object> reply, int status,
      boolean close) throws IOException {
    logger.close();
    reply.put("stdout", logger.collected(false));
    reply.put("stderr", logger.collected(true));
    sendJson(exchange, status < 100 || status > 999 ? 500 : status, reply, close);
  }

  private static Map<String, String> stringMap(Object value, boolean lowerKeys) {
    Map<String, String> map = new LinkedHashMap<>();
    if (value instanceof Map) {
      for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
        String key = String.valueOf(entry.getKey());
        map.put(lowerKeys ? key.toLowerCase() : key, Json.stringify(entry.getValue()));
      }
    }
    return map;
  }
}
