package io.openruntimes.core;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Where one call's logs go: the {@code <id>_logs.log} / {@code <id>_errors.log} files on the v5
 * wire, in-memory buffers for the reply on the v2 wire. Writes after {@link #close()} (a timed-out
 * function that keeps running) are dropped.
 */
public final class Logger {
  public static final int LIMIT = 8000;
  static final String TRUNCATED = "... Log truncated due to size limit (8000 characters)";
  static final String NATIVE_NOTICE =
      "Native logs detected. Use context.log() or context.error() for better experience.";
  // What one call keeps of each stream: the executor reads 5 MiB of a log file and notes the
  // truncation when there is more, so one byte past that is all it needs; a flood of output
  // grows neither this process nor the file (on tmpfs: memory too) past that.
  static final int STREAM_LIMIT = 5 * 1024 * 1024 + 1;
  // A file is written once, at close, unless its stream outgrows this first: most calls log
  // little, and opening each file once per call is the least the official runtimes' layout costs.
  private static final int BUFFER_BYTES = 64 * 1024;
  private static final byte[] NONE = new byte[0];

  private final String id;
  private final Sink logs;
  private final Sink errors;
  private boolean open;
  private boolean nativeSeen;

  /**
   * One stream of a call: held in memory and written to its file ({@code path}; null on the v2
   * wire, where it is returned in the reply) when it outgrows BUFFER_BYTES and at close.
   */
  private static final class Sink {
    final String path;
    byte[] data = NONE;
    int size;
    int room = STREAM_LIMIT;
    FileOutputStream file;

    Sink(String path) {
      this.path = path;
    }

    void append(byte[] b, int off, int len) {
      len = Math.min(len, room);
      if (len <= 0) {
        return;
      }
      room -= len;
      if (size + len > data.length) {
        data = Arrays.copyOf(data, Math.max(size + len, Math.min(2 * data.length + 256, STREAM_LIMIT)));
      }
      System.arraycopy(b, off, data, size, len);
      size += len;
      if (path != null && size >= BUFFER_BYTES) {
        writeOut();
      }
    }

    /** Appends what is held to the file, opened on first use (the logs dir made only if missing). */
    void writeOut() {
      try {
        if (file == null) {
          try {
            file = new FileOutputStream(path, true);
          } catch (FileNotFoundException e) {
            new File(path).getParentFile().mkdirs();
            file = new FileOutputStream(path, true);
          }
        }
        file.write(data, 0, size);
      } catch (IOException e) {
        room = 0; // a full disk or a lost directory must not fail the execution
      }
      size = 0;
      if (data.length > BUFFER_BYTES) {
        data = NONE; // a flood's buffer is not kept for the rest of the call
      }
    }

    /** Both files exist afterwards, empty when nothing was logged, as the official runtimes leave them. */
    void close() {
      writeOut();
      if (file != null) {
        try {
          file.close();
        } catch (IOException e) {
          // nothing more can be done about a failing log file
        }
        file = null;
      }
    }

    String text() {
      return new String(data, 0, size, StandardCharsets.UTF_8);
    }
  }

  private Logger(String id, Sink logs, Sink errors) {
    this.id = id;
    this.logs = logs;
    this.errors = errors;
    this.open = logs != null;
  }

  /** The v5 log files for one request, or a logger that discards everything when disabled. */
  static Logger forRequest(Config config, String logging, String requestedId) {
    if ("disabled".equalsIgnoreCase(logging == null ? "" : logging.trim())) {
      return new Logger("", null, null);
    }
    String id = requestedId != null && !requestedId.isEmpty()
        ? requestedId
        : (config.development ? "dev" : uniqid());
    String base = config.logsDir + File.separator + id;
    return new Logger(id, new Sink(base + "_logs.log"), new Sink(base + "_errors.log"));
  }

  /** v2 wire: output is returned as stdout/stderr strings ({@link #collected}). */
  static Logger collecting() {
    return new Logger("", new Sink(null), new Sink(null));
  }

  /**
   * PHP uniqid() shape the executor expects: 8 hex of seconds, 5 of microseconds, 7 random. The
   * random part only keeps ids apart (they name files in the instance's own logs dir), so it is
   * not drawn from SecureRandom, which costs a digest and a lock per draw.
   */
  static String uniqid() {
    long micros = System.currentTimeMillis() * 1000 + (System.nanoTime() / 1000) % 1000;
    char[] id = new char[20];
    hex(id, 0, 8, micros / 1_000_000);
    hex(id, 8, 5, micros % 1_000_000);
    hex(id, 13, 7, ThreadLocalRandom.current().nextInt(1 << 28));
    return new String(id);
  }

  /** `value` as `digits` lower-case hex digits (zero-padded, high digits dropped) at `id[at]`. */
  private static void hex(char[] id, int at, int digits, long value) {
    for (int i = at + digits - 1; i >= at; i--) {
      id[i] = Character.forDigit((int) (value & 0xf), 16);
      value >>>= 4;
    }
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
    if (open) {
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      (error ? errors : logs).append(bytes, 0, bytes.length);
    }
  }

  /** Native stdout/stderr of the call; false once closed so late output reaches the console. */
  synchronized boolean nativeWrite(boolean stderr, byte[] b, int off, int len) {
    if (!open) {
      return logs == null; // logging disabled: the output is dropped
    }
    if (logs.path == null) { // v2: each stream as it was written
      (stderr ? errors : logs).append(b, off, len);
      return true;
    }
    if (!nativeSeen) {
      nativeSeen = true;
      byte[] notice = (NATIVE_NOTICE + "\n").getBytes(StandardCharsets.UTF_8);
      logs.append(notice, 0, notice.length);
    }
    logs.append(b, off, len);
    return true;
  }

  /** v2 wire: what the call wrote to one stream, without its final newline. */
  synchronized String collected(boolean error) {
    String text = (error ? errors : logs).text();
    return text.endsWith("\n") ? text.substring(0, text.length() - 1) : text;
  }

  /** Writes the files before the response leaves (v5); later writes are dropped. */
  public synchronized void close() {
    if (open && logs.path != null) {
      logs.close();
      errors.close();
    }
    open = false;
  }
}
