package io.openruntimes.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The adapter's HTTP/1.1 server: one thread per connection reads a request, runs it and writes the
 * response in one write. The executor keeps its connections open, so a warm call costs no thread
 * switch (com.sun.net.httpserver hands every request from its selector thread to a pool thread and
 * the connection back: 2.5 times the CPU of a whole warm call here). Requests are parsed as the
 * Python adapter parses them (runtimes/python/server.py): limits answered with 414/431/413, anything
 * malformed with 400, each closing the connection.
 */
final class HttpServer {
  static final int MAX_LINE = 65536;
  static final int MAX_HEADERS = 1000; // Appwrite allows 100 user headers and adds its own on top

  /** Answers one request: calls {@link Exchange#respond} once, or throws. */
  interface Handler {
    void handle(Exchange exchange) throws Exception;
  }

  /** The handler took no part in answering: the request was answered elsewhere (a soft timeout). */
  static final class Answered extends Exception {
    private static final long serialVersionUID = 1L;

    Answered() {
      super(null, null, false, false);
    }
  }

  private static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;
    final int status;

    Refused(int status) {
      super(null, null, false, false);
      this.status = status;
    }
  }

  /** One request and its answer. The body is read before the handler runs. */
  static final class Exchange {
    final String method;
    final String target;
    /** Lower-cased names; repeated headers joined by ", ". */
    final Map<String, String> headers;
    /** Null when over {@link Config#MAX_BODY_BYTES} (the rest was read and dropped). */
    final byte[] body;
    private final Socket socket;
    private final OutputStream out;
    private boolean keepAlive;
    private boolean responded;

    private Exchange(String method, String target, Map<String, String> headers, byte[] body, boolean keepAlive,
        Socket socket, OutputStream out) {
      this.method = method;
      this.target = target;
      this.headers = headers;
      this.body = body;
      this.keepAlive = keepAlive;
      this.socket = socket;
      this.out = out;
    }

    /**
     * Sends the response in one write. `close`: the connection ends after it (a soft timeout's
     * answer, while the call runs on: then {@link #close} it).
     */
    synchronized void respond(int status, Map<String, String> headers, byte[] body, boolean close) throws IOException {
      if (responded) {
        return;
      }
      responded = true;
      if (close) {
        keepAlive = false;
      }
      boolean noBody = status == 204 || status == 304 || status < 200;
      boolean sendBody = !noBody && !"HEAD".equals(method);
      StringBuilder head = new StringBuilder(256);
      head.append("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n");
      for (Map.Entry<String, String> header : headers.entrySet()) {
        String name = header.getKey();
        if (!name.equals("content-length") && !name.equals("connection") && !name.equals("transfer-encoding")) {
          head.append(name).append(": ").append(header.getValue()).append("\r\n");
        }
      }
      if (!noBody) {
        head.append("content-length: ").append(body.length).append("\r\n");
      }
      if (!keepAlive) {
        head.append("connection: close\r\n");
      } else if ("keep-alive".equalsIgnoreCase(this.headers.get("connection"))) {
        head.append("connection: keep-alive\r\n"); // HTTP/1.0 asked for it
      }
      head.append("\r\n");
      byte[] start = head.toString().getBytes(StandardCharsets.ISO_8859_1);
      int size = start.length + (sendBody ? body.length : 0);
      byte[] message = sendBody ? new byte[size] : start;
      if (sendBody) {
        System.arraycopy(start, 0, message, 0, start.length);
        System.arraycopy(body, 0, message, start.length, body.length);
      }
      out.write(message);
      out.flush();
    }

    /** Ends the connection (the one that answered a timed-out call). */
    void close() {
      try {
        socket.close();
      } catch (IOException e) {
        // already gone
      }
    }
  }

  /** A connection's input, buffered without the per-byte lock of BufferedInputStream. */
  private static final class Input {
    private final InputStream raw;
    private final byte[] buffer = new byte[16384];
    private int position;
    private int limit;

    Input(InputStream raw) {
      this.raw = raw;
    }

    /** False at end of input. */
    private boolean fill() throws IOException {
      if (position < limit) {
        return true;
      }
      int read = raw.read(buffer, 0, buffer.length);
      if (read <= 0) {
        return false;
      }
      position = 0;
      limit = read;
      return true;
    }

    /** A line without its CRLF (or LF), as ISO-8859-1; null at end of input before any byte. */
    String readLine(int tooLong) throws IOException, Refused {
      StringBuilder partial = null;
      while (fill()) {
        int start = position;
        while (position < limit && buffer[position] != '\n') {
          position++;
        }
        int length = position - start + (partial == null ? 0 : partial.length());
        if (length > MAX_LINE) {
          throw new Refused(tooLong);
        }
        String piece = new String(buffer, start, position - start, StandardCharsets.ISO_8859_1);
        if (position < limit) {
          position++; // the LF
          String line = partial == null ? piece : partial.append(piece).toString();
          return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        }
        partial = partial == null ? new StringBuilder(piece) : partial.append(piece);
      }
      if (partial == null) {
        return null;
      }
      throw new Refused(400); // the connection ended mid-line
    }

    /** Exactly `size` bytes. */
    byte[] read(int size) throws IOException, Refused {
      byte[] bytes = new byte[size];
      int done = 0;
      while (done < size) {
        if (!fill()) {
          throw new Refused(400);
        }
        int n = Math.min(size - done, limit - position);
        System.arraycopy(buffer, position, bytes, done, n);
        position += n;
        done += n;
      }
      return bytes;
    }

    void skip(long size) throws IOException, Refused {
      while (size > 0) {
        if (!fill()) {
          throw new Refused(400);
        }
        int n = (int) Math.min(size, limit - position);
        position += n;
        size -= n;
      }
    }
  }

  private final ServerSocket server;
  private final Handler handler;

  private HttpServer(ServerSocket server, Handler handler) {
    this.server = server;
    this.handler = handler;
  }

  /** Listens on host:port and serves on a daemon thread. */
  static void start(String host, int port, Handler handler) throws IOException {
    ServerSocket socket = new ServerSocket();
    socket.setReuseAddress(true);
    socket.bind(new InetSocketAddress(InetAddress.getByName(host), port), 1024);
    HttpServer server = new HttpServer(socket, handler);
    Thread accept = new Thread(server::acceptLoop, "http-accept");
    accept.setDaemon(false); // the process lives as long as it listens
    accept.start();
  }

  private void acceptLoop() {
    int connections = 0;
    while (true) {
      Socket socket;
      try {
        socket = server.accept();
      } catch (IOException e) {
        continue; // e.g. too many open files: the connection waits in the backlog
      }
      Thread thread = new Thread(() -> serve(socket), "http-" + ++connections);
      thread.setDaemon(true);
      thread.start();
    }
  }

  private void serve(Socket socket) {
    boolean handedOver = false;
    try {
      socket.setTcpNoDelay(true);
      Input in = new Input(socket.getInputStream());
      OutputStream out = socket.getOutputStream();
      while (true) {
        Exchange exchange;
        try {
          exchange = read(in, out, socket);
        } catch (Refused refused) {
          refuse(out, refused.status);
          return;
        }
        if (exchange == null) {
          return; // the client closed the connection
        }
        try {
          handler.handle(exchange);
        } catch (Answered answered) {
          handedOver = true; // to the thread that answered, which closes the connection
          return;
        } catch (Throwable error) {
          error.printStackTrace(NativeOutput.original());
          exchange.respond(500, new LinkedHashMap<>(), new byte[0], true);
          return;
        }
        if (!exchange.responded) {
          exchange.respond(500, new LinkedHashMap<>(), new byte[0], true);
        }
        if (!exchange.keepAlive) {
          return;
        }
      }
    } catch (IOException e) {
      // the connection broke; nothing to answer on
    } finally {
      if (!handedOver) {
        try {
          socket.close();
        } catch (IOException e) {
          // already gone
        }
      }
    }
  }

  private static void refuse(OutputStream out, int status) throws IOException {
    out.write(("HTTP/1.1 " + status + " " + reason(status) + "\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  // ---------------------------------------------------------------- parsing

  /** The next request, or null when the connection ended before one began. */
  private static Exchange read(Input in, OutputStream out, Socket socket) throws IOException, Refused {
    String requestLine = in.readLine(414);
    while (requestLine != null && requestLine.isEmpty()) {
      requestLine = in.readLine(414); // stray CRLF between requests
    }
    if (requestLine == null) {
      return null;
    }
    int first = requestLine.indexOf(' ');
    int last = requestLine.lastIndexOf(' ');
    if (first <= 0 || last <= first) {
      throw new Refused(400);
    }
    String method = requestLine.substring(0, first);
    String target = requestLine.substring(first + 1, last);
    String version = requestLine.substring(last + 1);
    if (!validToken(method) || target.isEmpty() || target.indexOf(' ') >= 0
        || !(version.equals("HTTP/1.1") || version.equals("HTTP/1.0"))) {
      throw new Refused(400);
    }

    Map<String, String> headers = new LinkedHashMap<>();
    String previous = null;
    int count = 0;
    while (true) {
      String line = in.readLine(431);
      if (line == null) {
        throw new Refused(400);
      }
      if (line.isEmpty()) {
        break;
      }
      if (line.charAt(0) == ' ' || line.charAt(0) == '\t') { // obsolete folding: continues the previous value
        if (previous == null) {
          throw new Refused(400);
        }
        headers.put(previous, (headers.get(previous) + " " + line.trim()).trim());
        continue;
      }
      if (++count > MAX_HEADERS) {
        throw new Refused(431);
      }
      int colon = line.indexOf(':');
      String name = colon > 0 ? line.substring(0, colon).toLowerCase() : "";
      if (!validToken(name)) {
        throw new Refused(400);
      }
      String value = line.substring(colon + 1).trim();
      String earlier = headers.get(name);
      headers.put(name, earlier == null ? value : earlier + ", " + value);
      previous = name;
    }

    String connection = headers.getOrDefault("connection", "").toLowerCase();
    boolean keepAlive = version.equals("HTTP/1.1") ? !connection.contains("close") : connection.contains("keep-alive");
    boolean chunked = headers.getOrDefault("transfer-encoding", "").toLowerCase().contains("chunked");
    String length = headers.get("content-length");
    long size = 0;
    if (!chunked && length != null) {
      size = parseLength(length);
      if (size < 0) {
        throw new Refused(400);
      }
    } else if (!chunked && headers.containsKey("transfer-encoding")) {
      throw new Refused(501);
    }
    if ((chunked || size > 0) && "100-continue".equalsIgnoreCase(headers.get("expect"))) {
      out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }
    byte[] body = chunked ? readChunked(in) : readBody(in, size);
    if (body == null) {
      keepAlive = false; // over the limit: answered 413 and closed, as the executor expects
    }
    return new Exchange(method, target, headers, body, keepAlive, socket, out);
  }

  private static boolean validToken(String token) {
    if (token.isEmpty()) {
      return false;
    }
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c <= ' ' || c >= 127 || "()<>@,;:\\\"/[]?={}".indexOf(c) >= 0) {
        return false;
      }
    }
    return true;
  }

  private static long parseLength(String value) {
    if (value.isEmpty() || value.length() > 18) {
      return -1;
    }
    long size = 0;
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      size = size * 10 + (c - '0');
    }
    return size;
  }

  /** Up to the limit; past it the rest is read and dropped so the client gets the refusal. */
  private static byte[] readBody(Input in, long size) throws IOException, Refused {
    if (size > Config.MAX_BODY_BYTES) {
      in.skip(size);
      return null;
    }
    return in.read((int) size);
  }

  private static byte[] readChunked(Input in) throws IOException, Refused {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    boolean over = false;
    while (true) {
      String line = in.readLine(400);
      if (line == null) {
        throw new Refused(400);
      }
      int semi = line.indexOf(';');
      long size;
      try {
        size = Long.parseLong((semi < 0 ? line : line.substring(0, semi)).trim(), 16);
      } catch (NumberFormatException e) {
        throw new Refused(400);
      }
      if (size < 0) {
        throw new Refused(400);
      }
      if (size == 0) {
        break;
      }
      if (over || body.size() + size > Config.MAX_BODY_BYTES) {
        over = true;
        in.skip(size);
      } else {
        body.write(in.read((int) size), 0, (int) size);
      }
      if (!"".equals(in.readLine(400))) {
        throw new Refused(400);
      }
    }
    String trailer;
    while ((trailer = in.readLine(431)) != null && !trailer.isEmpty()) {
      // trailers are not the function's
    }
    return over ? null : body.toByteArray();
  }

  static String reason(int status) {
    switch (status) {
      case 100: return "Continue";
      case 200: return "OK";
      case 201: return "Created";
      case 202: return "Accepted";
      case 204: return "No Content";
      case 301: return "Moved Permanently";
      case 302: return "Found";
      case 304: return "Not Modified";
      case 400: return "Bad Request";
      case 401: return "Unauthorized";
      case 403: return "Forbidden";
      case 404: return "Not Found";
      case 413: return "Payload Too Large";
      case 414: return "URI Too Long";
      case 431: return "Request Header Fields Too Large";
      case 500: return "Internal Server Error";
      case 501: return "Not Implemented";
      case 503: return "Service Unavailable";
      default: return "Status";
    }
  }
}
