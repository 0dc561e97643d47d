package io.openruntimes.core;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Adapter settings from the environment (runtimes/README.md). Defaults are the container values so
 * the same classes run unchanged inside an openruntimes image.
 */
public final class Config {
  public static final int MAX_BODY_BYTES = 20 * 1024 * 1024;

  public final String host;
  public final int port;
  public final String codeDir;
  public final String logsDir;
  public final String entrypoint;
  public final String secret;
  public final boolean development;
  public final Map<String, String> enforcedHeaders;
  /** Non-empty: speak the v2 wire contract with this challenge key. */
  public final String v2Key;

  Config(Map<String, String> env, String defaultEntrypoint) {
    host = env.getOrDefault("OPEN_RUNTIMES_HOST", "0.0.0.0");
    port = parsePort(env.get("OPEN_RUNTIMES_PORT"));
    codeDir = env.getOrDefault("OPEN_RUNTIMES_CODE_DIR", "/usr/local/server/src/function");
    logsDir = env.getOrDefault("OPEN_RUNTIMES_LOGS_DIR", "/mnt/logs");
    v2Key = env.getOrDefault("INTERNAL_RUNTIME_KEY", "");
    String entry = nonEmpty(env.get("OPEN_RUNTIMES_ENTRYPOINT"), defaultEntrypoint);
    if (!v2Key.isEmpty()) {
      entry = nonEmpty(env.get("INTERNAL_RUNTIME_ENTRYPOINT"), entry);
    }
    entrypoint = entry;
    secret = env.getOrDefault("OPEN_RUNTIMES_SECRET", "");
    development = "development".equals(env.get("OPEN_RUNTIMES_ENV"));
    enforcedHeaders = parseEnforcedHeaders(env.get("OPEN_RUNTIMES_HEADERS"));
  }

  public static Config fromEnvironment(String defaultEntrypoint) {
    return new Config(System.getenv(), defaultEntrypoint);
  }

  /** Keys lower-cased, values stringified; a malformed value enforces nothing. */
  static Map<String, String> parseEnforcedHeaders(String raw) {
    Map<String, String> headers = new LinkedHashMap<>();
    if (raw == null || raw.trim().isEmpty()) {
      return Collections.unmodifiableMap(headers);
    }
    try {
      Object parsed = Json.parse(raw);
      if (parsed instanceof Map) {
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) parsed).entrySet()) {
          headers.put(String.valueOf(entry.getKey()).toLowerCase(), Json.stringify(entry.getValue()));
        }
      }
    } catch (Json.JsonException e) {
      System.err.println("OPEN_RUNTIMES_HEADERS is not valid JSON, ignoring it: " + e.getMessage());
    }
    return Collections.unmodifiableMap(headers);
  }

  private static int parsePort(String raw) {
    try {
      return raw == null || raw.isEmpty() ? 3000 : Integer.parseInt(raw.trim());
    } catch (NumberFormatException e) {
      return 3000;
    }
  }

  private static String nonEmpty(String value, String fallback) {
    return value == null || value.isEmpty() ? fallback : value;
  }
}
