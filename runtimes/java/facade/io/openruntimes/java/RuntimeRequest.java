package io.openruntimes.java;

import io.openruntimes.core.Request;
import java.util.Map;

/**
 * {@code context.getReq()} of the current API and {@code req} of the v2 API
 * (getPayload/getVariables/getHeaders). Body semantics live in the shared core.
 */
public class RuntimeRequest {
  private final Request request;

  RuntimeRequest(Request request) {
    this.request = request;
  }

  public String getMethod() {
    return request.method;
  }

  public String getScheme() {
    return request.scheme;
  }

  public String getHost() {
    return request.host;
  }

  public int getPort() {
    return request.port;
  }

  public String getPath() {
    return request.path;
  }

  public Map<String, String> getQuery() {
    return request.query;
  }

  public String getQueryString() {
    return request.queryString;
  }

  public String getUrl() {
    return request.url;
  }

  public Map<String, String> getHeaders() {
    return request.headers;
  }

  public byte[] getBodyBinary() {
    return request.body;
  }

  public String getBodyText() {
    return request.bodyText();
  }

  /** Throws on an empty or invalid body. */
  public Map<String, Object> getBodyJson() {
    return request.bodyJson();
  }

  /** getBodyJson() for application/json ({} when empty), getBodyText() otherwise. */
  public Object getBody() {
    return request.body();
  }

  /** Deprecated alias of getBodyText(). */
  public String getBodyRaw() {
    return request.bodyText();
  }

  /** v2: the request body as text ("" when empty). */
  public String getPayload() {
    return request.bodyText();
  }

  /** v2: the function's variables. */
  public Map<String, String> getVariables() {
    return request.variables;
  }

  /** v2 (Appwrite 0.x name of getVariables()). */
  public Map<String, String> getEnv() {
    return request.variables;
  }
}
