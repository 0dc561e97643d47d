package io.openruntimes.core;

/**
 * The user's handler as loaded by a language facade. The facade owns the user-facing types
 * (RuntimeContext, RuntimeRequest, ...); the core owns the wire, logs and timeouts.
 */
public interface Function {
  /** Takes (req, res) of the v2 API rather than a context. */
  boolean legacy();

  /**
   * Runs the handler. Context API: null when the handler returned no response. Legacy API: never
   * null (no res call means 200 with an empty body).
   */
  Output call(Request request, Logger logger) throws Throwable;

  interface Loader {
    /** Resolves the entrypoint (a source path like src/Main.java) to its compiled handler. */
    Function load(String entrypoint) throws LoadError;
  }

  /** Its message is written to the errors file and the request answered 503. */
  final class LoadError extends Exception {
    public LoadError(String message) {
      super(message);
    }
  }
}
