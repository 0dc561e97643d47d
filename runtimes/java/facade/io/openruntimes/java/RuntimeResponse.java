package io.openruntimes.java;

import io.openruntimes.core.Json;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * {@code context.getRes()} of the current API, and {@code res} of the v2 API. The two share this
 * name, so send/json return a RuntimeResponse (a RuntimeOutput): a v2 handler can
 * {@code return res.send(...)} and a current one can return the same call as its output. v2
 * semantics ("the last send/json call wins") are kept in {@link #last}.
 */
public class RuntimeResponse extends RuntimeOutput {
  /** The value a legacy send/json carried: its text or its JSON object. */
  final Object value;
  RuntimeResponse last;

  public RuntimeResponse() {
    this(new byte[0], 200, new HashMap<>(), null);
  }

  RuntimeResponse(byte[] body, int statusCode, Map<String, String> headers, Object value) {
    super(body, statusCode, headers);
    this.value = value;
  }

  private static Map<String, String> copy(Map<String, String> headers) {
    return headers == null ? new HashMap<>() : new HashMap<>(headers);
  }

  public RuntimeOutput binary(byte[] bytes, int statusCode, Map<String, String> headers) {
    return new RuntimeOutput(bytes, statusCode, copy(headers));
  }

  public RuntimeOutput binary(byte[] bytes, int statusCode) {
    return binary(bytes, statusCode, null);
  }

  public RuntimeOutput binary(byte[] bytes) {
    return binary(bytes, 200, null);
  }

  public RuntimeOutput text(String body, int statusCode, Map<String, String> headers) {
    return binary(String.valueOf(body).getBytes(StandardCharsets.UTF_8), statusCode, headers);
  }

  public RuntimeOutput text(String body, int statusCode) {
    return text(body, statusCode, null);
  }

  public RuntimeOutput text(String body) {
    return text(body, 200, null);
  }

  /** Deprecated alias of text(); also the v2 {@code res.send(text[, status])}. */
  public RuntimeResponse send(String body, int statusCode, Map<String, String> headers) {
    String text = String.valueOf(body);
    last = new RuntimeResponse(text.getBytes(StandardCharsets.UTF_8), statusCode, copy(headers), text);
    return last;
  }

  public RuntimeResponse send(String body, int statusCode) {
    return send(body, statusCode, null);
  }

  public RuntimeResponse send(String body) {
    return send(body, 200, null);
  }

  /** Compact JSON with content-type application/json; also the v2 {@code res.json(obj[, status])}. */
  public RuntimeResponse json(Map<String, ?> json, int statusCode, Map<String, String> headers) {
    Map<String, String> all = copy(headers);
    all.put("content-type", "application/json");
    last = new RuntimeResponse(Json.encode(json).getBytes(StandardCharsets.UTF_8), statusCode, all,
        json == null ? new HashMap<String, Object>() : json);
    return last;
  }

  public RuntimeResponse json(Map<String, ?> json, int statusCode) {
    return json(json, statusCode, null);
  }

  public RuntimeResponse json(Map<String, ?> json) {
    return json(json, 200, null);
  }

  public RuntimeOutput empty() {
    return text("", 204, null);
  }

  public RuntimeOutput redirect(String url, int statusCode, Map<String, String> headers) {
    Map<String, String> all = copy(headers);
    all.put("location", url);
    return text("", statusCode, all);
  }

  public RuntimeOutput redirect(String url, int statusCode) {
    return redirect(url, statusCode, null);
  }

  public RuntimeOutput redirect(String url) {
    return redirect(url, 301, null);
  }
}
