// The JavaScript family's adapter core, shared by runtimes/node/server.js and runtimes/deno/server.ts
// (the way Kotlin shares runtimes/java/core). Everything the open-runtimes contract says about a
// call lives here: the v5 and v2 wires, the context, logging, soft timeouts, the response rules
// (docs/runtime-contract.md). A platform file adds only what differs between Node and Deno: the
// environment, files, loading the user's module and the HTTP server. Plain ES module with `node:`
// built-ins only, so both runtimes import it as is and it starts offline.
import { AsyncLocalStorage } from 'node:async_hooks';
import { inspect } from 'node:util';

export const STARTED_LINE = 'HTTP server successfully started!';
const LOG_LIMIT = 8000;
const TRUNCATED = '... Log truncated due to size limit (8000 characters)';
const NATIVE_NOTICE = 'Native logs detected. Use context.log() or context.error() for better experience.';
const MAX_BODY_BYTES = 20 * 1024 * 1024;
const LOG_BUFFER_BYTES = 1024 * 1024;
// What one call may leave in each log file: the executor reads 5 MiB and notes the truncation when
// there is more, so one character past that is all it needs; a flood stops costing disk or tmpfs.
const LOG_FILE_CHARS = 5 * 1024 * 1024 + 1;
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------- values

export function stringify(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.stack || String(value);
  if (value !== null && typeof value === 'object') {
    try {
      const json = JSON.stringify(value);
      if (json !== undefined) return json;
    } catch (err) {
      // circular or BigInt inside: fall through to inspect
    }
    return inspect(value, { depth: 4 });
  }
  return String(value);
}

function formatMessages(messages) {
  return messages.map(stringify).join(' ');
}

function toBytes(value, arrayIsBytes) {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value; // a Node Buffer too
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (arrayIsBytes && Array.isArray(value)) return new Uint8Array(value);
  return encoder.encode(String(value));
}

function parseEnforcedHeaders(raw) {
  let parsed = {};
  try {
    parsed = raw ? JSON.parse(raw) : {};
  } catch (err) {
    parsed = {};
  }
  const headers = {};
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    for (const key of Object.keys(parsed)) {
      const value = parsed[key];
      headers[key.toLowerCase()] = typeof value === 'string' ? value : JSON.stringify(value);
    }
  }
  return headers;
}

// ---------------------------------------------------------------- request / context

function splitHost(hostHeader, scheme) {
  const defaultPort = scheme === 'https' ? 443 : 80;
  let host = hostHeader;
  let port = '';
  const bracket = hostHeader.lastIndexOf(']');
  const colon = hostHeader.lastIndexOf(':');
  if (colon > bracket) {
    host = hostHeader.slice(0, colon);
    port = hostHeader.slice(colon + 1);
  }
  const parsed = parseInt(port, 10);
  return { host, port: Number.isNaN(parsed) ? defaultPort : parsed, defaultPort };
}

function parseQuery(queryString) {
  const query = {};
  for (const part of queryString.split('&')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!key) continue;
    query[key] = eq < 0 ? '' : part.slice(eq + 1);
  }
  return query;
}

function splitTarget(target) {
  const withoutHash = (target || '/').split('#')[0];
  const qIndex = withoutHash.indexOf('?');
  return {
    path: qIndex < 0 ? withoutHash : withoutHash.slice(0, qIndex),
    queryString: qIndex < 0 ? '' : withoutHash.slice(qIndex + 1),
  };
}

// Helpers return plain values; only the one the function returns is sent.
function responseBuilder() {
  const output = (body, statusCode, headers) => ({ body, statusCode, headers: headers || {} });
  const text = (body, statusCode = 200, headers = {}) => output(toBytes(body, false), statusCode, headers);
  return {
    text,
    send: text,
    binary: (bytes, statusCode = 200, headers = {}) => output(toBytes(bytes, true), statusCode, headers),
    json: (obj, statusCode = 200, headers = {}) =>
      text(JSON.stringify(obj), statusCode, Object.assign({}, headers, { 'content-type': 'application/json' })),
    empty: () => text('', 204, {}),
    redirect: (url, statusCode = 301, headers = {}) =>
      text('', statusCode, Object.assign({}, headers, { location: url })),
  };
}

function legacyRequest(payload, variables, headers) {
  return { payload, variables, env: variables, headers };
}

// Legacy `res`: the last send/json call wins; no call means 200 with an empty body.
function legacyResponse() {
  const state = { called: false, isJson: false, body: '', status: 200 };
  const api = {
    send(text, status = 200) {
      Object.assign(state, { called: true, isJson: false, body: text, status });
      return api;
    },
    json(obj, status = 200) {
      Object.assign(state, { called: true, isJson: true, body: obj, status });
      return api;
    },
  };
  return { state, api };
}

// ---------------------------------------------------------------- response

function headerEntries(headers) {
  if (!headers || typeof headers !== 'object') return [];
  if (typeof headers.forEach === 'function' && typeof headers.get === 'function') {
    // a fetch Headers object: keep repeated set-cookie values apart
    const entries = [];
    headers.forEach((value, key) => {
      if (key.toLowerCase() !== 'set-cookie') entries.push([key, value]);
    });
    const cookies = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : [];
    if (cookies.length) entries.push(['set-cookie', cookies]);
    return entries;
  }
  return Object.keys(headers).map((key) => [key, headers[key]]);
}

function contentType(value) {
  let type = value === undefined || value === null || value === '' ? 'text/plain' : String(value);
  const semi = type.indexOf(';');
  const mime = (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase();
  type = mime + (semi < 0 ? '' : type.slice(semi));
  if (!mime.startsWith('multipart/') && !type.toLowerCase().includes('charset=')) type += '; charset=utf-8';
  return type;
}

// What a platform's reply() sends: a status, header values (a list for repeated ones) and the body.
function functionOutput(statusCode, rawHeaders, body, logId) {
  const headers = {};
  for (const [rawKey, value] of headerEntries(rawHeaders)) {
    const key = String(rawKey).toLowerCase().trim();
    if (key.startsWith('x-open-runtimes-')) continue;
    headers[key] = Array.isArray(value) ? value.map(String) : String(value);
  }
  const type = headers['content-type'];
  headers['content-type'] = contentType(Array.isArray(type) ? type[type.length - 1] : type);
  headers['x-open-runtimes-log-id'] = logId;
  return { statusCode, headers, body };
}

function plainOutput(statusCode, text, extraHeaders) {
  return {
    statusCode,
    headers: Object.assign({ 'content-type': 'text/plain; charset=utf-8' }, extraHeaders || {}),
    body: encoder.encode(text),
  };
}

function jsonOutput(statusCode, value) {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: encoder.encode(JSON.stringify(value)) };
}

// ---------------------------------------------------------------- the adapter

class LoadError extends Error {}

const TIMED_OUT = Symbol('timed out');

/**
 * platform: {
 *   env(name) -> string | undefined, envObject() -> object, defaultEntrypoint,
 *   entryFile(codeDir, entrypoint) -> path, isFile(path) -> bool,
 *   importModule(path) -> Promise<module>, syntaxError(err) -> message | null,
 *   mkdirs(dir), appendLog(path, text) (creates the file, even for ''), randomBytes(n) -> Uint8Array,
 * }
 * request (per call): { method, target: path + query, headers: { lower-case name: string },
 *   readBody() -> Promise<Uint8Array | null> (null: over the size limit), reply(output) -> any }
 */
export function createAdapter(platform) {
  const env = platform.env;
  // set (even empty) means the executor speaks the v2 wire
  const v2Key = env('INTERNAL_RUNTIME_KEY');
  const config = {
    host: env('OPEN_RUNTIMES_HOST') || '0.0.0.0',
    port: parseInt(env('OPEN_RUNTIMES_PORT') || '3000', 10),
    codeDir: env('OPEN_RUNTIMES_CODE_DIR') || '/usr/local/server/src/function',
    logsDir: env('OPEN_RUNTIMES_LOGS_DIR') || '/mnt/logs',
    entrypoint: (v2Key !== undefined && env('INTERNAL_RUNTIME_ENTRYPOINT')) || env('OPEN_RUNTIMES_ENTRYPOINT')
      || platform.defaultEntrypoint,
    secret: env('OPEN_RUNTIMES_SECRET') || '',
    development: env('OPEN_RUNTIMES_ENV') === 'development',
    headers: parseEnforcedHeaders(env('OPEN_RUNTIMES_HEADERS')),
    v2Key,
    maxBodyBytes: MAX_BODY_BYTES,
  };

  // -------------------------------------------------------------- logging

  // Random bytes drawn a page at a time: one draw per call cost ~6% of a warm call's CPU.
  let randomPool = platform.randomBytes(4096);
  let randomAt = 0;
  function randomHex4() {
    if (randomAt + 4 > randomPool.length) {
      randomPool = platform.randomBytes(4096);
      randomAt = 0;
    }
    let hex = '';
    for (let end = randomAt + 4; randomAt < end; randomAt += 1) hex += HEX[randomPool[randomAt]];
    return hex;
  }

  // PHP uniqid() shape the executor expects: 8 hex of seconds, 5 of microseconds, 7 random.
  function uniqid() {
    const now = performance.timeOrigin + performance.now();
    const seconds = Math.floor(now / 1000);
    const micros = Math.floor((now - seconds * 1000) * 1000) % 1000000;
    const random = randomHex4();
    return seconds.toString(16).padStart(8, '0') + micros.toString(16).padStart(5, '0') + random.slice(0, 7);
  }

  // The logs directory is made only when writing fails (it is missing), not on every call.
  function appendLog(file, text) {
    try {
      platform.appendLog(file, text);
    } catch (err) {
      try {
        platform.mkdirs(config.logsDir);
      } catch (exists) {
        // e.g. Deno refuses a recursive mkdir of a link to a directory: the write below tells
      }
      try {
        platform.appendLog(file, text);
      } catch (again) {
        // a full disk must not fail the execution
      }
    }
  }

  // One per v5 call. Output is kept in memory (a file per stream would cost an open, writes and a
  // close on every call) and written by flush(), before the response leaves; past LOG_BUFFER_BYTES
  // a stream is written out at once, so a flood of output is not held. Writes after close (a
  // timed-out function still running) are dropped.
  class Logger {
    constructor(id) {
      this.id = id;
      this.open = Boolean(id);
      this.streams = { log: { chunks: [], size: 0, total: 0, written: false },
        error: { chunks: [], size: 0, total: 0, written: false } };
      this.nativeSeen = false;
    }

    write(stream, text) {
      if (!this.open) return;
      const buffer = this.streams[stream];
      const room = LOG_FILE_CHARS - buffer.total;
      if (room <= 0) return;
      if (text.length > room) text = text.slice(0, room);
      buffer.chunks.push(text);
      buffer.size += text.length;
      buffer.total += text.length;
      if (buffer.size > LOG_BUFFER_BYTES) this.writeOut(stream);
    }

    writeOut(stream) {
      const buffer = this.streams[stream];
      const text = buffer.chunks.length === 1 ? buffer.chunks[0] : buffer.chunks.join('');
      buffer.chunks = [];
      buffer.size = 0;
      buffer.written = true;
      appendLog(`${config.logsDir}/${this.id}_${stream === 'log' ? 'logs' : 'errors'}.log`, text);
    }

    // Both files exist afterwards, empty when nothing was logged, as the official runtimes leave
    // them; once written, a file is touched again only for new output (the executor may have
    // read and removed it by then).
    flush() {
      if (!this.open) return;
      for (const stream of ['log', 'error']) {
        const buffer = this.streams[stream];
        if (!buffer.written || buffer.size > 0) this.writeOut(stream);
      }
    }

    message(stream, messages) {
      let text = formatMessages(messages);
      if (text.length > LOG_LIMIT) text = text.slice(0, LOG_LIMIT) + TRUNCATED;
      this.write(stream, text + '\n');
    }

    native(stream, args) {
      if (!this.nativeSeen) {
        this.nativeSeen = true;
        this.write('log', NATIVE_NOTICE + '\n');
      }
      this.write('log', formatMessages(args) + '\n');
    }

    close() {
      this.flush();
      this.open = false;
    }
  }

  // v2 wire: native output is returned in the response body instead of files.
  class OutputCollector {
    constructor() {
      this.stdout = [];
      this.stderr = [];
    }

    native(stream, args) {
      (stream === 'error' ? this.stderr : this.stdout).push(formatMessages(args));
    }
  }

  // console.* is global; AsyncLocalStorage routes each call to the sink of the call that made it.
  const callStore = new AsyncLocalStorage();
  const nativeConsole = {};
  function captureNativeLogs() {
    const streams = { log: 'log', info: 'log', debug: 'log', warn: 'error', error: 'error' };
    for (const method of Object.keys(streams)) {
      nativeConsole[method] = console[method].bind(console);
      console[method] = (...args) => {
        const sink = callStore.getStore();
        if (sink) sink.native(streams[method], args);
        else nativeConsole[method](...args);
      };
    }
  }

  // Soft timeout: the function keeps running, but its result and later logs are discarded.
  function runWithTimeout(sink, call, seconds) {
    const work = callStore.run(sink, () => Promise.resolve().then(call));
    if (!seconds) return work;
    let timer;
    const limit = new Promise((resolve) => { timer = setTimeout(() => resolve(TIMED_OUT), seconds * 1000); });
    return Promise.race([work, limit]).finally(() => clearTimeout(timer));
  }

  // -------------------------------------------------------------- context

  function functionHeaders(request) {
    const headers = {};
    for (const key of Object.keys(request.headers)) {
      if (!key.startsWith('x-open-runtimes-')) headers[key] = request.headers[key];
    }
    return Object.assign(headers, config.headers);
  }

  function buildRequest(request, target, body) {
    const headers = functionHeaders(request);
    const scheme = request.headers['x-forwarded-proto'] || 'http';
    const { host, port, defaultPort } = splitHost(request.headers.host || '', scheme);
    const { path, queryString } = target;
    const origin = `${scheme}://${host}${port === defaultPort ? '' : `:${port}`}`;
    const req = {
      headers,
      method: request.method,
      scheme,
      host,
      port,
      path,
      queryString,
      query: parseQuery(queryString),
      url: `${origin}${path}${queryString ? `?${queryString}` : ''}`,
      get bodyBinary() { return body; },
      get bodyText() { return decoder.decode(body); },
      get bodyJson() { return JSON.parse(decoder.decode(body)); },
      get body() {
        const type = String(headers['content-type'] || '').toLowerCase();
        if (type.startsWith('application/json')) return body.length ? req.bodyJson : {};
        return req.bodyText;
      },
      get bodyRaw() { return req.bodyText; },
    };
    return req;
  }

  function buildContext(request, target, body, logger) {
    return {
      req: buildRequest(request, target, body),
      res: responseBuilder(),
      log: (...messages) => logger.message('log', messages),
      error: (...messages) => logger.message('error', messages),
    };
  }

  // The environment plus the per-execution variables of the v2 era, taken from the request
  // because a warm process's environment cannot change per call (docs/runtime-contract.md).
  function legacyVariables(payload, headers) {
    const event = headers['x-appwrite-event'] || '';
    return Object.assign({}, platform.envObject(), {
      APPWRITE_FUNCTION_TRIGGER: headers['x-appwrite-trigger'] || '',
      APPWRITE_FUNCTION_EVENT: event,
      APPWRITE_FUNCTION_EVENT_DATA: event ? payload : '',
      APPWRITE_FUNCTION_DATA: payload,
      APPWRITE_FUNCTION_USER_ID: headers['x-appwrite-user-id'] || '',
      APPWRITE_FUNCTION_JWT: headers['x-appwrite-user-jwt'] || '',
    });
  }

  // -------------------------------------------------------------- loader

  let cachedHandler = null;

  function pickHandler(mod) {
    let value = mod;
    for (let depth = 0; depth < 3 && value !== null && value !== undefined; depth++) {
      if (typeof value.default === 'function') return value.default;
      if (typeof value === 'function') return value;
      if (typeof value.main === 'function') return value.main;
      value = value.default;
    }
    return null;
  }

  async function loadHandler() {
    if (cachedHandler) return cachedHandler;
    const file = platform.entryFile(config.codeDir, config.entrypoint);
    if (!platform.isFile(file)) {
      throw new LoadError(`Failed to load entrypoint, file ${config.entrypoint} does not exist.`);
    }
    let mod;
    try {
      mod = await platform.importModule(file);
    } catch (err) {
      const syntax = platform.syntaxError(err);
      if (syntax !== null) throw new LoadError(`Syntax error in ${config.entrypoint}: ${syntax}`);
      throw new LoadError(`Failed to load module: ${(err && err.stack) || err}`);
    }
    const handler = pickHandler(mod);
    if (!handler) throw new LoadError("Function signature invalid. Did you forget to export a 'main' function?");
    cachedHandler = handler;
    return handler;
  }

  // -------------------------------------------------------------- the two wires

  async function handleV5(request) {
    const target = splitTarget(request.target);
    if (request.method === 'GET' && target.path === '/__opr/health') return request.reply(plainOutput(200, 'OK'));

    const timeoutHeader = request.headers['x-open-runtimes-timeout'];
    let timeout = 0;
    if (timeoutHeader !== undefined && timeoutHeader !== '') {
      timeout = /^[0-9]+$/.test(timeoutHeader) ? parseInt(timeoutHeader, 10) : 0;
      if (timeout <= 0) {
        return request.reply(plainOutput(500, 'Header "x-open-runtimes-timeout" must be an integer greater than 0.'));
      }
    }

    if (config.secret && request.headers['x-open-runtimes-secret'] !== config.secret) {
      return request.reply(plainOutput(500, 'Unauthorized. Provide correct "x-open-runtimes-secret" header.'));
    }

    const body = await request.readBody();
    if (body === null) return request.reply(plainOutput(413, '', { connection: 'close' }));

    let logId = '';
    if (String(request.headers['x-open-runtimes-logging'] || '').toLowerCase() !== 'disabled') {
      logId = request.headers['x-open-runtimes-log-id'] || (config.development ? 'dev' : uniqid());
    }
    const logger = new Logger(logId);
    const fail = (statusCode, message) => {
      if (message) logger.message('error', [message]);
      logger.close();
      return request.reply(functionOutput(statusCode, {}, new Uint8Array(0), logId));
    };

    let handler;
    try {
      handler = await loadHandler();
    } catch (err) {
      return fail(503, err instanceof LoadError ? err.message : `Failed to load module: ${stringify(err)}`);
    }

    let output;
    try {
      if (handler.length === 2) {
        const headers = functionHeaders(request);
        const legacy = legacyResponse();
        const payload = decoder.decode(body);
        const reqObj = legacyRequest(payload, legacyVariables(payload, headers), headers);
        const result = await runWithTimeout(logger, () => handler(reqObj, legacy.api), timeout);
        if (result === TIMED_OUT) return fail(500, 'Execution timed out.');
        const r = responseBuilder();
        const { state } = legacy;
        output = state.isJson ? r.json(state.body, state.status) : r.text(state.called ? state.body : '', state.status);
      } else {
        const context = buildContext(request, target, body, logger);
        output = await runWithTimeout(logger, () => handler(context), timeout);
        if (output === TIMED_OUT) return fail(500, 'Execution timed out.');
        if (output === null || output === undefined || typeof output !== 'object') {
          return fail(500, 'Return statement missing. return context.res.empty() if no response is expected.');
        }
      }
    } catch (err) {
      return fail(500, stringify(err));
    }

    try {
      const reply = functionOutput(output.statusCode === undefined ? 200 : output.statusCode,
        output.headers, toBytes(output.body, true), logId);
      logger.flush(); // on disk before the executor, having the response, reads the files
      const sent = request.reply(reply);
      logger.close();
      return sent;
    } catch (err) {
      // e.g. an invalid status code or header value chosen by the function
      return fail(500, stringify(err));
    }
  }

  async function handleV2(request) {
    const body = await request.readBody();
    if (request.headers['x-internal-challenge'] !== config.v2Key) {
      return request.reply(jsonOutput(500, { stderr: 'Unauthorized' }));
    }
    let data = {};
    try {
      data = JSON.parse(body === null ? '' : decoder.decode(body));
    } catch (err) {
      data = {};
    }
    if (!data || typeof data !== 'object') data = {};
    let payload = data.payload === undefined || data.payload === null ? '' : data.payload;
    if (typeof payload !== 'string') payload = JSON.stringify(payload);
    const variables = data.variables && typeof data.variables === 'object' ? data.variables : {};
    const headers = data.headers && typeof data.headers === 'object' ? data.headers : {};

    const collector = new OutputCollector();
    const reply = (status, fields) => request.reply(jsonOutput(status, Object.assign(
      { stdout: collector.stdout.join('\n'), stderr: collector.stderr.join('\n') }, fields)));

    let handler;
    try {
      handler = await loadHandler();
    } catch (err) {
      collector.stderr.push((err && err.message) || String(err));
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
    const response = state.isJson ? state.body : (state.called ? String(state.body) : '');
    return reply(state.status, { response });
  }

  return {
    config,
    nativeConsole,
    captureNativeLogs,
    handle: v2Key !== undefined ? handleV2 : handleV5,
    plainOutput,
  };
}
