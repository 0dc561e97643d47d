package io.openruntimes.core;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * System.out / System.err are process-wide, but calls run concurrently: each write is routed to
 * the logger bound to the writing thread (inherited by threads the function starts), and to the
 * real console when no call owns the thread.
 */
final class NativeOutput extends OutputStream {
  private static final InheritableThreadLocal<Logger> CURRENT = new InheritableThreadLocal<>();
  private static final PrintStream CONSOLE =
      new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

  private final PrintStream console;
  private final boolean stderr;

  private NativeOutput(PrintStream console, boolean stderr) {
    this.console = console;
    this.stderr = stderr;
  }

  static void install() {
    PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
    System.setOut(new PrintStream(new NativeOutput(CONSOLE, false), true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(new NativeOutput(err, true), true, StandardCharsets.UTF_8));
  }

  /** The process stdout, whatever the calls are doing. */
  static PrintStream original() {
    return CONSOLE;
  }

  static void bind(Logger logger) {
    CURRENT.set(logger);
  }

  static void unbind() {
    CURRENT.remove();
  }

  @Override
  public void write(int b) {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public void write(byte[] b, int off, int len) {
    Logger logger = CURRENT.get();
    if (logger == null || !logger.nativeWrite(stderr, b, off, len)) {
      console.write(b, off, len);
    }
  }

  @Override
  public void flush() {
    console.flush();
  }
}
