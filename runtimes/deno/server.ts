// Open Runtimes adapter for Deno (Deno.serve, so >= 1.35; built for Deno 2): speaks the v5
// executor wire (or v2 when INTERNAL_RUNTIME_KEY is set) and runs the user's function. No remote
// imports, so it starts offline. Same shape as runtimes/node/server.js. Spec: runtimes/README.md.

import { AsyncLocalStorage } from "node:async_hooks";
import { pathToFileURL } from "node:url";
import { inspect } from "node:util";

// deno-lint-ignore no-explicit-any
type Any = any;
type Headers_ = Record<string, string | string[]>;
interface Output {
  body: Uint8Array;
  statusCode: number;
  headers: Headers_;
}

// ---------------------------------------------------------------- config

function parseEnforcedHeaders(raw: string | undefined): Record<string, string> {
  let parsed: Any = {};
  try {
    parsed = raw ? JSON.parse(raw) : {};
  } catch {
    parsed = {};
  }
  const headers: Record<string, string> = {};
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
    for (const key of Object.keys(parsed)) {
      const value = parsed[key];
      headers[key.toLowerCase()] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return headers;
}

const env = (name: string): string => Deno.env.get(name) ?? "";
// set (even empty) means the executor speaks the v2 wire
const v2Key = Deno.env.get("INTERNAL_RUNTIME_KEY");
const config = {
  host: env("OPEN_RUNTIMES_HOST") || "0.0.0.0",
  port: parseInt(env("OPEN_RUNTIMES_PORT") || "3000", 10),
  codeDir: env("OPEN_RUNTIMES_CODE_DIR") || "/usr/local/server/src/function",
  logsDir: env("OPEN_RUNTIMES_LOGS_DIR") || "/mnt/logs",
  entrypoint: (v2Key !== undefined && env("INTERNAL_RUNTIME_ENTRYPOINT")) || env("OPEN_RUNTIMES_ENTRYPOINT") ||
    "mod.ts",
  secret: env("OPEN_RUNTIMES_SECRET"),
  development: env("OPEN_RUNTIMES_ENV") === "development",
  headers: parseEnforcedHeaders(env("OPEN_RUNTIMES_HEADERS")),
  v2Key,
  maxBodyBytes: 20 * 1024 * 1024,
};

// ---------------------------------------------------------------- logging

const LOG_LIMIT = 8000;
const TRUNCATED = "... Log truncated due to size limit (8000 characters)";
const NATIVE_NOTICE = "Native logs detected. Use context.log() or context.error() for better experience.";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function stringify(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.stack || String(value);
  if (value !== null && typeof value === "object") {
    try {
      const json = JSON.stringify(value);
      if (json !== undefined) return json;
    } catch {
      // circular or BigInt inside: fall through to inspect
    }
    return inspect(value, { depth: 4 });
  }
  return String(value);
}

function formatMessages(messages: unknown[]): string {
  return messages.map(stringify).join(" ");
}

// PHP uniqid() shape the executor expects: 8 hex of seconds, 5 of microseconds, 7 random.
function uniqid(): string {
  const now = performance.timeOrigin + performance.now();
  const seconds = Math.floor(now / 1000);
  const micros = Math.floor((now - seconds * 1000) * 1000) % 1000000;
  const random = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0"));
  return seconds.toString(16).padStart(8, "0") + micros.toString(16).padStart(5, "0") + random.join("").slice(0, 7);
}

type Stream = "log" | "error";
interface Sink {
  native(stream: Stream, args: unknown[]): void;
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

// One per v5 call. Writes are synchronous so everything is on disk before the response leaves,
// and writes after close (a timed-out function still running) are dropped.
class Logger implements Sink {
  files: Record<Stream, Deno.FsFile> | null = null;
  nativeSeen = false;

  constructor(public id: string) {
    if (id) {
      Deno.mkdirSync(config.logsDir, { recursive: true });
      const open = (kind: string) =>
        Deno.openSync(`${config.logsDir}/${id}_${kind}.log`, { append: true, create: true });
      this.files = { log: open("logs"), error: open("errors") };
    }
  }

  write(stream: Stream, text: string): void {
    if (!this.files) return;
    try {
      writeAll(this.files[stream], encoder.encode(text));
    } catch {
      // a full disk must not fail the execution
    }
  }

  message(stream: Stream, messages: unknown[]): void {
    let text = formatMessages(messages);
    if (text.length > LOG_LIMIT) text = text.slice(0, LOG_LIMIT) + TRUNCATED;
    this.write(stream, text + "\n");
  }

  native(_stream: Stream, args: unknown[]): void {
    if (!this.nativeSeen) {
      this.nativeSeen = true;
      this.write("log", NATIVE_NOTICE + "\n");
    }
    this.write("log", formatMessages(args) + "\n");
  }

  close(): void {
    const files = this.files;
    this.files = null;
    if (files) {
      files.log.close();
      files.error.close();
    }
  }
}

// v2 wire: native output is returned in the response body instead of files.
class OutputCollector implements Sink {
  stdout: string[] = [];
  stderr: string[] = [];

  native(stream: Stream, args: unknown[]): void {
    (stream === "error" ? this.stderr : this.stdout).push(formatMessages(args));
  }
}

// console.* is global; AsyncLocalStorage routes each call to the sink of the call that made it.
const callStore = new AsyncLocalStorage<Sink>();
const nativeConsole: Record<string, (...args: unknown[]) => void> = {};
function captureNativeLogs(): void {
  const streams: Record<string, Stream> = { log: "log", info: "log", debug: "log", warn: "error", error: "error" };
  const target = console as unknown as Record<string, (...args: unknown[]) => void>;
  for (const method of Object.keys(streams)) {
    nativeConsole[method] = target[method].bind(console);
    target[method] = (...args: unknown[]) => {
      const sink = callStore.getStore();
      if (sink) sink.native(streams[method], args);
      else nativeConsole[method](...args);
    };
  }
}

// ---------------------------------------------------------------- request / context

function splitHost(hostHeader: string, scheme: string) {
  const defaultPort = scheme === "https" ? 443 : 80;
  let host = hostHeader;
  let port = "";
  const bracket = hostHeader.lastIndexOf("]");
  const colon = hostHeader.lastIndexOf(":");
  if (colon > bracket) {
    host = hostHeader.slice(0, colon);
    port = hostHeader.slice(colon + 1);
  }
  const parsed = parseInt(port, 10);
  return { host, port: Number.isNaN(parsed) ? defaultPort : parsed, defaultPort };
}

function parseQuery(queryString: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const part of queryString.split("&")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!key) continue;
    query[key] = eq < 0 ? "" : part.slice(eq + 1);
  }
  return query;
}

function functionHeaders(req: Request): Record<string, string> {
  const headers: Record<string, string> = {};
  req.headers.forEach((value, key) => {
    if (!key.startsWith("x-open-runtimes-")) headers[key] = value;
  });
  return Object.assign(headers, config.headers);
}

function buildRequest(req: Request, body: Uint8Array) {
  const headers = functionHeaders(req);
  const scheme = req.headers.get("x-forwarded-proto") || "http";
  const { host, port, defaultPort } = splitHost(req.headers.get("host") || "", scheme);
  const target = new URL(req.url);
  const urlPath = target.pathname;
  const queryString = target.search.slice(1);
  const url = `${scheme}://${host}${port === defaultPort ? "" : `:${port}`}${urlPath}${
    queryString ? `?${queryString}` : ""
  }`;
  const request = {
    headers,
    method: req.method,
    scheme,
    host,
    port,
    path: urlPath,
    queryString,
    query: parseQuery(queryString),
    url,
    get bodyBinary(): Uint8Array {
      return body;
    },
    get bodyText(): string {
      return decoder.decode(body);
    },
    get bodyJson(): Any {
      return JSON.parse(decoder.decode(body));
    },
    get body(): Any {
      const type = String(headers["content-type"] || "").toLowerCase();
      if (type.startsWith("application/json")) return body.length ? request.bodyJson : {};
      return request.bodyText;
    },
    get bodyRaw(): string {
      return request.bodyText;
    },
  };
  return request;
}

function buildContext(req: Request, body: Uint8Array, logger: Logger) {
  return {
    req: buildRequest(req, body),
    res: responseBuilder(),
    log: (...messages: unknown[]) => logger.message("log", messages),
    error: (...messages: unknown[]) => logger.message("error", messages),
  };
}

// The environment plus the per-execution variables of the v2 era, taken from the request because
// a warm process's environment cannot change per call (runtimes/README.md).
function legacyVariables(payload: string, headers: Record<string, string>): Record<string, string> {
  const event = headers["x-appwrite-event"] ?? "";
  return {
    ...Deno.env.toObject(),
    APPWRITE_FUNCTION_TRIGGER: headers["x-appwrite-trigger"] ?? "",
    APPWRITE_FUNCTION_EVENT: event,
    APPWRITE_FUNCTION_EVENT_DATA: event ? payload : "",
    APPWRITE_FUNCTION_DATA: payload,
    APPWRITE_FUNCTION_USER_ID: headers["x-appwrite-user-id"] ?? "",
    APPWRITE_FUNCTION_JWT: headers["x-appwrite-user-jwt"] ?? "",
  };
}

function legacyRequest(payload: string, variables: Record<string, string>, headers: Record<string, string>) {
  return { payload, variables, env: variables, headers };
}

// Legacy `res`: the last send/json call wins; no call means 200 with an empty body.
function legacyResponse() {
  const state = { called: false, isJson: false, body: "" as unknown, status: 200 };
  const api = {
    send(text: unknown, status = 200) {
      Object.assign(state, { called: true, isJson: false, body: text, status });
      return api;
    },
    json(obj: unknown, status = 200) {
      Object.assign(state, { called: true, isJson: true, body: obj, status });
      return api;
    },
  };
  return { state, api };
}

// ---------------------------------------------------------------- response

function toBytes(value: unknown, arrayIsBytes: boolean): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (arrayIsBytes && Array.isArray(value)) return new Uint8Array(value);
  return encoder.encode(String(value));
}

// Helpers return plain values; only the one the function returns is sent.
function responseBuilder() {
  const output = (body: Uint8Array, statusCode: number, headers: Headers_): Output => ({
    body,
    statusCode,
    headers: headers || {},
  });
  const text = (body: unknown, statusCode = 200, headers: Headers_ = {}) =>
    output(toBytes(body, false), statusCode, headers);
  return {
    text,
    send: text,
    binary: (bytes: unknown, statusCode = 200, headers: Headers_ = {}) =>
      output(toBytes(bytes, true), statusCode, headers),
    json: (obj: unknown, statusCode = 200, headers: Headers_ = {}) =>
      text(JSON.stringify(obj), statusCode, { ...headers, "content-type": "application/json" }),
    empty: () => text("", 204, {}),
    redirect: (url: string, statusCode = 301, headers: Headers_ = {}) =>
      text("", statusCode, { ...headers, location: url }),
  };
}

function headerEntries(headers: unknown): [string, unknown][] {
  if (!headers || typeof headers !== "object") return [];
  if (headers instanceof Headers) {
    // keep repeated set-cookie values apart
    const entries: [string, unknown][] = [];
    headers.forEach((value, key) => {
      if (key !== "set-cookie") entries.push([key, value]);
    });
    const cookies = headers.getSetCookie();
    if (cookies.length) entries.push(["set-cookie", cookies]);
    return entries;
  }
  return Object.entries(headers as Record<string, unknown>);
}

function contentType(value: unknown): string {
  let type = value === undefined || value === null || value === "" ? "text/plain" : String(value);
  const semi = type.indexOf(";");
  const mime = (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase();
  type = mime + (semi < 0 ? "" : type.slice(semi));
  if (!mime.startsWith("multipart/") && !type.toLowerCase().includes("charset=")) type += "; charset=utf-8";
  return type;
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

function makeOutput(statusCode: number, rawHeaders: unknown, body: Uint8Array, logId: string): Response {
  const headers = new Headers();
  let type: unknown = undefined;
  for (const [rawKey, value] of headerEntries(rawHeaders)) {
    const key = String(rawKey).toLowerCase().trim();
    if (key.startsWith("x-open-runtimes-")) continue;
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    if (key === "content-type") {
      type = values[values.length - 1];
      continue;
    }
    headers.delete(key);
    for (const v of values) headers.append(key, v);
  }
  headers.set("content-type", contentType(type));
  headers.set("x-open-runtimes-log-id", logId);
  const payload = NULL_BODY_STATUS.has(statusCode) ? null : body as unknown as BodyInit;
  return new Response(payload, { status: statusCode, headers });
}

function plain(statusCode: number, text: string, extraHeaders: Record<string, string> = {}): Response {
  return new Response(text, {
    status: statusCode,
    headers: { "content-type": "text/plain; charset=utf-8", ...extraHeaders },
  });
}

function jsonReply(statusCode: number, value: unknown): Response {
  return new Response(JSON.stringify(value), { status: statusCode, headers: { "content-type": "application/json" } });
}

// ---------------------------------------------------------------- loader

class LoadError extends Error {}

let cachedHandler: ((...args: Any[]) => unknown) | null = null;

function pickHandler(mod: Any): ((...args: Any[]) => unknown) | null {
  let value = mod;
  for (let depth = 0; depth < 3 && value !== null && value !== undefined; depth++) {
    if (typeof value.default === "function") return value.default;
    if (typeof value === "function") return value;
    if (typeof value.main === "function") return value.main;
    value = value.default;
  }
  return null;
}

function isSyntaxError(err: unknown): boolean {
  // Deno reports parse failures of imported modules as a plain Error mentioning the parser
  return err instanceof SyntaxError ||
    (err instanceof Error && /could not be parsed|Expected .* got|Unexpected token|Unterminated/i.test(err.message));
}

async function loadHandler() {
  if (cachedHandler) return cachedHandler;
  const file = config.entrypoint.startsWith("/") ? config.entrypoint : `${config.codeDir}/${config.entrypoint}`;
  try {
    if (!Deno.statSync(file).isFile) throw new Error("not a file");
  } catch {
    throw new LoadError(`Failed to load entrypoint, file ${config.entrypoint} does not exist.`);
  }
  let mod: Any;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    const error = err as Error;
    if (isSyntaxError(err)) {
      throw new LoadError(`Syntax error in ${config.entrypoint}: ${error.message.replace(/^SyntaxError: /, "")}`);
    }
    throw new LoadError(`Failed to load module: ${error?.stack || err}`);
  }
  const handler = pickHandler(mod);
  if (!handler) throw new LoadError("Function signature invalid. Did you forget to export a 'main' function?");
  cachedHandler = handler;
  return handler;
}

// ---------------------------------------------------------------- server

const TIMED_OUT = Symbol("timed out");

// Soft timeout: the function keeps running, but its result and later logs are discarded.
function runWithTimeout(sink: Sink, call: () => unknown, seconds: number): Promise<unknown> {
  const work = callStore.run(sink, () => Promise.resolve().then(call));
  if (!seconds) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), seconds * 1000);
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

// Reads the whole body, or null past the limit (still draining so the connection stays usable).
async function readBody(req: Request): Promise<Uint8Array | null> {
  if (!req.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > config.maxBodyBytes) tooLarge = true;
    else chunks.push(chunk);
  }
  if (tooLarge) return null;
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

async function handleV5(req: Request): Promise<Response> {
  if (req.method === "GET" && new URL(req.url).pathname === "/__opr/health") return plain(200, "OK");

  const timeoutHeader = req.headers.get("x-open-runtimes-timeout");
  let timeout = 0;
  if (timeoutHeader !== null && timeoutHeader !== "") {
    timeout = /^[0-9]+$/.test(timeoutHeader) ? parseInt(timeoutHeader, 10) : 0;
    if (timeout <= 0) return plain(500, 'Header "x-open-runtimes-timeout" must be an integer greater than 0.');
  }

  if (config.secret && req.headers.get("x-open-runtimes-secret") !== config.secret) {
    return plain(500, 'Unauthorized. Provide correct "x-open-runtimes-secret" header.');
  }

  const body = await readBody(req);
  if (body === null) return plain(413, "", { connection: "close" });

  let logId = "";
  if ((req.headers.get("x-open-runtimes-logging") || "").toLowerCase() !== "disabled") {
    logId = req.headers.get("x-open-runtimes-log-id") || (config.development ? "dev" : uniqid());
  }
  const logger = new Logger(logId);
  const fail = (statusCode: number, message: string) => {
    if (message) logger.message("error", [message]);
    logger.close();
    return makeOutput(statusCode, {}, new Uint8Array(0), logId);
  };

  let handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    return fail(503, err instanceof LoadError ? err.message : `Failed to load module: ${stringify(err)}`);
  }

  let output: Any;
  try {
    if (handler.length === 2) {
      const legacy = legacyResponse();
      const payload = decoder.decode(body);
      const headers = functionHeaders(req);
      const reqObj = legacyRequest(payload, legacyVariables(payload, headers), headers);
      const result = await runWithTimeout(logger, () => handler(reqObj, legacy.api), timeout);
      if (result === TIMED_OUT) return fail(500, "Execution timed out.");
      const r = responseBuilder();
      const { state } = legacy;
      output = state.isJson ? r.json(state.body, state.status) : r.text(state.called ? state.body : "", state.status);
    } else {
      const context = buildContext(req, body, logger);
      output = await runWithTimeout(logger, () => handler(context), timeout);
      if (output === TIMED_OUT) return fail(500, "Execution timed out.");
      if (output === null || output === undefined || typeof output !== "object") {
        return fail(500, "Return statement missing. return context.res.empty() if no response is expected.");
      }
    }
  } catch (err) {
    return fail(500, stringify(err));
  }

  try {
    const response = makeOutput(
      output.statusCode === undefined ? 200 : output.statusCode,
      output.headers,
      toBytes(output.body, true),
      logId,
    );
    logger.close();
    return response;
  } catch (err) {
    // e.g. an invalid status code or header value chosen by the function
    return fail(500, stringify(err));
  }
}

async function handleV2(req: Request): Promise<Response> {
  const body = await readBody(req);
  if (req.headers.get("x-internal-challenge") !== config.v2Key) return jsonReply(500, { stderr: "Unauthorized" });
  let data: Any = {};
  try {
    data = JSON.parse(body === null ? "" : decoder.decode(body));
  } catch {
    data = {};
  }
  if (!data || typeof data !== "object") data = {};
  let payload = data.payload === undefined || data.payload === null ? "" : data.payload;
  if (typeof payload !== "string") payload = JSON.stringify(payload);
  const variables = data.variables && typeof data.variables === "object" ? data.variables : {};
  const headers = data.headers && typeof data.headers === "object" ? data.headers : {};

  const collector = new OutputCollector();
  const reply = (status: number, fields: Record<string, unknown>) =>
    jsonReply(status, { stdout: collector.stdout.join("\n"), stderr: collector.stderr.join("\n"), ...fields });

  let handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    collector.stderr.push(err instanceof Error ? err.message : String(err));
    return reply(500, {});
  }
  const legacy = legacyResponse();
  try {
    await runWithTimeout(collector, () => handler(legacyRequest(payload, variables, headers), legacy.api), 0);
  } catch (err) {
    collector.stderr.push(stringify(err));
    return reply(500, {});
  }
  const { state } = legacy;
  const response = state.isJson ? state.body : (state.called ? String(state.body) : "");
  return reply(state.status, { response });
}

function start(): void {
  captureNativeLogs();
  // A stray error from a function's timer or promise must not take the warm instance down.
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    nativeConsole.error(event.error);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    nativeConsole.error(event.reason);
  });

  const handle = config.v2Key !== undefined ? handleV2 : handleV5;
  Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: () => nativeConsole.log("HTTP server successfully started!"),
  }, async (req) => {
    try {
      return await handle(req);
    } catch (err) {
      nativeConsole.error(err);
      return plain(500, "");
    }
  });
}

start();
