package io.openruntimes.core;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;

/**
 * Where one call's logs go: the {@code <id>_logs.log} / {@code <id>_errors.log} files on the v5
 * wire, in-memory buffers on the v2 wire. Writes after {@link #close()} (a timed-out function that
 * keeps running) are dropped.
 */
public final class Logger {
  public static final int LIMIT = 8000;
  static final String TRUNCATED = "... Log truncated due to size limit (8000 characters)";
  static final String NATIVE_NOTICE =
      "Native logs detected. Use context.log() or context.error() for better experience.";
  // v2 replies carry the output in the body; the executor keeps at most 1 MB of it anyway.
  private static final long COLLECT_LIMIT = 5L * 1024 * 1024;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final String id;
  private final boolean collecting;
  private OutputStream logs;
  private OutputStream errors;
  private boolean nativeSeen;
  private long collected;

  private Logger(String id, OutputStream logs, OutputStream errors, boolean collecting) {
    this.id = id;
    this.logs = logs;
    this.errors = errors;
    this.collecting = collecting;
  }

  /** The v5 log files for one request, or a logger that discards everything when disabled. */
  static Logger forRequest(Config config, String logging, String requestedId) {
    if ("disabled".equalsIgnoreCase(logging == null ? "" : logging.trim())) {
      return new Logger("", null, null, false);
    }
    String id = requestedId != null && !requestedId.isEmpty()
        ? requestedId
        : (config.development ? "dev" : uniqid());
    try {
      File dir = new File(config.logsDir);
      dir.mkdirs();
      OutputStream logs = new BufferedOutputStream(new FileOutputStream(new File(dir, id + "_logs.log"), true));
      OutputStream errors = new BufferedOutputStream(new FileOutputStream(new File(dir, id + "_errors.log"), true));
      return new Logger(id, logs, errors, false);
    } catch (IOException e) {
      NativeOutput.original().println("Cannot open log files in " + config.logsDir + ": " + e);
      return new Logger(id, null, null, false);
    }
  }

  /** v2 wire: output is returned as stdout/stderr strings. */
  static Logger collecting(ByteArrayOutputStream stdout, ByteArrayOutputStream stderr) {
    return new Logger("", stdout, stderr, true);
  }

  /** PHP uniqid() shape the executor expects: 8 hex of seconds, 5 of microseconds, 7 random. */
  static String uniqid() {
    long micros = System.currentTimeMillis() * 1000 + (System.nanoTime() / 1000) % 1000;
    StringBuilder id = new StringBuilder(String.format("%08x%05x", micros / 1_000_000, micros % 1_000_000));
    for (int i = 0; i < 7; i++) {
      id.append(Character.forDigit(RANDOM.nextInt(16), 16));
    }
    return id.toString();
  }

  public String id() {
    return id;
  }

  public void log(Object... messages) {
    message(false, messages);
  }

  public void error(Object... messages) {
    message(true, messages);
  }

  /** context.log/error: arguments stringified, joined by a space, capped at 8000 characters. */
  public void message(boolean error, Object[] messages) {
    StringBuilder text = new StringBuilder();
    if (messages == null) {
      messages = new Object[] {null};
    }
    for (int i = 0; i < messages.length; i++) {
      if (i > 0) {
        text.append(' ');
      }
      text.append(Json.stringify(messages[i]));
    }
    String line = text.toString();
    if (line.length() > LIMIT) {
      int cut = Character.isHighSurrogate(line.charAt(LIMIT - 1)) ? LIMIT - 1 : LIMIT;
      line = line.substring(0, cut) + TRUNCATED;
    }
    write(error, line + "\n");
  }

  /** Adapter-written entries (stack traces, timeouts): uncapped, newline-terminated. */
  public void raw(boolean error, String text) {
    write(error, text.endsWith("\n") ? text : text + "\n");
  }

  private synchronized void write(boolean error, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    append(error ? errors : logs, bytes, 0, bytes.length);
  }

  /** Native stdout/stderr of the call; false once closed so late output reaches the console. */
  synchronized boolean nativeWrite(boolean stderr, byte[] b, int off, int len) {
    if (logs == null) {
      return id.isEmpty() && !collecting;
    }
    if (collecting) {
      append(stderr ? errors : logs, b, off, len);
      return true;
    }
    if (!nativeSeen) {
      nativeSeen = true;
      byte[] notice = (NATIVE_NOTICE + "\n").getBytes(StandardCharsets.UTF_8);
      append(logs, notice, 0, notice.length);
    }
    append(logs, b, off, len);
    return true;
  }

  private void append(OutputStream stream, byte[] b, int off, int len) {
    if (stream == null) {
      return;
    }
    if (collecting) {
      long room = COLLECT_LIMIT - collected;
      if (room <= 0) {
        return;
      }
      len = (int) Math.min(len, room);
      collected += len;
    }
    try {
      stream.write(b, off, len);
    } catch (IOException e) {
      // a full disk must not fail the execution
    }
  }

  /** Flushes everything to disk before the response leaves; later writes are dropped. */
  public synchronized void close() {
    OutputStream[] streams = {logs, errors};
    logs = null;
    errors = null;
    if (collecting) {
      return;
    }
    for (OutputStream stream : streams) {
      if (stream != null) {
        try {
          stream.close();
        } catch (IOException e) {
          // nothing more can be done about a failing log file
        }
      }
    }
  }
}
