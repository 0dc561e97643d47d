package io.openruntimes.java;

import io.openruntimes.core.Logger;

/** What a current-API function receives: the request, the response helpers and the logger. */
public class RuntimeContext {
  private final RuntimeRequest req;
  private final RuntimeResponse res;
  private final Logger logger;

  RuntimeContext(RuntimeRequest req, RuntimeResponse res, Logger logger) {
    this.req = req;
    this.res = res;
    this.logger = logger;
  }

  public RuntimeRequest getReq() {
    return req;
  }

  public RuntimeResponse getRes() {
    return res;
  }

  /** Arguments joined by a space; maps, lists and arrays as JSON. */
  public void log(Object... messages) {
    logger.log(messages);
  }

  public void error(Object... messages) {
    logger.error(messages);
  }
}
