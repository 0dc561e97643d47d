package io.openruntimes.core;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One request as the function sees it (docs/runtime-contract.md), shared by the Java and Kotlin facades so
 * the body/url semantics live in one place. On the v2 wire the body is the payload.
 */
public final class Request {
  public final String method;
  public final String scheme;
  public final String host;
  public final int port;
  public final String path;
  public final String queryString;
  public final Map<String, String> query;
  public final String url;
  /** Lower-cased, x-open-runtimes-* removed, OPEN_RUNTIMES_HEADERS applied. */
  public final Map<String, String> headers;
  public final byte[] body;
  /** Legacy req.variables: the function's environment (v5) or the v2 body's "variables". */
  public final Map<String, String> variables;

  Request(String method, String scheme, String hostHeader, String target, Map<String, String> headers,
      byte[] body, Map<String, String> variables) {
    this.method = method;
    this.scheme = scheme;
    int bracket = hostHeader.lastIndexOf(']');
    int colon = hostHeader.lastIndexOf(':');
    int defaultPort = "https".equals(scheme) ? 443 : 80;
    int parsedPort = defaultPort;
    String hostName = hostHeader;
    if (colon > bracket) {
      hostName = hostHeader.substring(0, colon);
      try {
        parsedPort = Integer.parseInt(hostHeader.substring(colon + 1));
      } catch (NumberFormatException e) {
        parsedPort = defaultPort;
      }
    }
    this.host = hostName;
    this.port = parsedPort;
    int hash = target.indexOf('#');
    String noFragment = hash < 0 ? target : target.substring(0, hash);
    int question = noFragment.indexOf('?');
    this.path = question < 0 ? noFragment : noFragment.substring(0, question);
    this.queryString = question < 0 ? "" : noFragment.substring(question + 1);
    this.query = Collections.unmodifiableMap(parseQuery(queryString));
    this.url = scheme + "://" + host + (port == defaultPort ? "" : ":" + port) + path
        + (queryString.isEmpty() ? "" : "?" + queryString);
    this.headers = headers;
    this.body = body;
    this.variables = variables;
  }

  /** Split on '&', key before the first '=', no decoding, empty keys skipped, later keys win. */
  static Map<String, String> parseQuery(String queryString) {
    Map<String, String> query = new LinkedHashMap<>();
    for (String part : queryString.split("&", -1)) {
      int eq = part.indexOf('=');
      String key = eq < 0 ? part : part.substring(0, eq);
      if (!key.isEmpty()) {
        query.put(key, eq < 0 ? "" : part.substring(eq + 1));
      }
    }
    return query;
  }

  public String bodyText() {
    return new String(body, StandardCharsets.UTF_8);
  }

  /** Throws {@link Json.JsonException} on an empty or invalid body. */
  public Map<String, Object> bodyJson() {
    return Json.parseObject(bodyText());
  }

  /** bodyJson for application/json ({} when empty), bodyText otherwise. */
  public Object body() {
    String type = headers.getOrDefault("content-type", "").toLowerCase();
    if (type.startsWith("application/json")) {
      return body.length == 0 ? new LinkedHashMap<String, Object>() : bodyJson();
    }
    return bodyText();
  }
}
