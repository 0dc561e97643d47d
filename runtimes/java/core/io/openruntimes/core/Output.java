package io.openruntimes.core;

import java.util.Map;

/** What a call produced: status, headers, body; {@code value} is the legacy res.send/json value. */
public final class Output {
  public final int status;
  public final Map<String, String> headers;
  public final byte[] body;
  public final Object value;

  public Output(int status, Map<String, String> headers, byte[] body, Object value) {
    this.status = status;
    this.headers = headers;
    this.body = body == null ? new byte[0] : body;
    this.value = value;
  }
}
