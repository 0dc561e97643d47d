'use strict';
// Open Runtimes adapter for Node.js (>= 16): speaks the v5 executor wire (or v2 when
// INTERNAL_RUNTIME_KEY is set) and runs the user's function. Built-in modules only, so the
// same file runs on the host and inside an openruntimes/node image. Spec: runtimes/README.md.

const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const util = require('util');
const { pathToFileURL } = require('url');
const { AsyncLocalStorage } = require('async_hooks');

// ---------------------------------------------------------------- config

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

const env = process.env;
// set (even empty) means the executor speaks the v2 wire
const v2Key = env.INTERNAL_RUNTIME_KEY;
const config = {
  host: env.OPEN_RUNTIMES_HOST || '0.0.0.0',
  port: parseInt(env.OPEN_RUNTIMES_PORT || '3000', 10),
  codeDir: env.OPEN_RUNTIMES_CODE_DIR || '/usr/local/server/src/function',
  logsDir: env.OPEN_RUNTIMES_LOGS_DIR || '/mnt/logs',
  entrypoint: (v2Key !== undefined && env.INTERNAL_RUNTIME_ENTRYPOINT) || env.OPEN_RUNTIMES_ENTRYPOINT || 'index.js',
  secret: env.OPEN_RUNTIMES_SECRET || '',
  development: env.OPEN_RUNTIMES_ENV === 'development',
  headers: parseEnforcedHeaders(env.OPEN_RUNTIMES_HEADERS),
  v2Key,
  maxBodyBytes: 20 * 1024 * 1024,
};

// ---------------------------------------------------------------- logging

const LOG_LIMIT = 8000;
const TRUNCATED = '... Log truncated due to size limit (8000 characters)';
const NATIVE_NOTICE = 'Native logs detected. Use context.log() or context.error() for better experience.';

function stringify(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.stack || String(value);
  if (value !== null && typeof value === 'object') {
    try {
      const json = JSON.stringify(value);
      if (json !== undefined) return json;
    } catch (err) {
      // circular or BigInt inside: fall through to inspect
    }
    return util.inspect(value, { depth: 4 });
  }
  return String(value);
}

function formatMessages(messages) {
  return messages.map(stringify).join(' ');
}

// PHP uniqid() shape the executor expects: 8 hex of seconds, 5 of microseconds, 7 random.
function uniqid() {
  const ms = Date.now();
  const micros = (ms % 1000) * 1000 + Number(process.hrtime.bigint() % 1000n);
  return Math.floor(ms / 1000).toString(16).padStart(8, '0')
    + micros.toString(16).padStart(5, '0')
    + crypto.randomBytes(4).toString('hex').slice(0, 7);
}

// One per v5 call. Writes are synchronous so everything is on disk before the response leaves,
// and writes after close (a timed-out function still running) are dropped.
class Logger {
  constructor(id) {
    this.id = id;
    this.fds = null;
    this.nativeSeen = false;
    if (id) {
      fs.mkdirSync(config.logsDir, { recursive: true });
      this.fds = {
        log: fs.openSync(path.join(config.logsDir, `${id}_logs.log`), 'a'),
        error: fs.openSync(path.join(config.logsDir, `${id}_errors.log`), 'a'),
      };
    }
  }

  write(stream, text) {
    if (!this.fds) return;
    try {
      fs.writeSync(this.fds[stream], text);
    } catch (err) {
      // a full disk must not fail the execution
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
    const fds = this.fds;
    this.fds = null;
    if (fds) {
      fs.closeSync(fds.log);
      fs.closeSync(fds.error);
    }
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

  close() {}
}

// console.* is global; AsyncLocalStorage routes each call to the logger of the call that made it.
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

function functionHeaders(req) {
  const headers = {};
  for (const key of Object.keys(req.headers)) {
    if (key.startsWith('x-open-runtimes-')) continue;
    const value = req.headers[key];
    headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return Object.assign(headers, config.headers);
}

function buildRequest(req, body) {
  const headers = functionHeaders(req);
  const scheme = req.headers['x-forwarded-proto'] || 'http';
  const { host, port, defaultPort } = splitHost(req.headers.host || '', scheme);
  const target = (req.url || '/').split('#')[0];
  const qIndex = target.indexOf('?');
  const urlPath = qIndex < 0 ? target : target.slice(0, qIndex);
  const queryString = qIndex < 0 ? '' : target.slice(qIndex + 1);
  const origin = `${scheme}://${host}${port === defaultPort ? '' : `:${port}`}`;
  const url = `${origin}${urlPath}${queryString ? `?${queryString}` : ''}`;
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
    get bodyBinary() { return body; },
    get bodyText() { return body.toString('utf8'); },
    get bodyJson() { return JSON.parse(body.toString('utf8')); },
    get body() {
      const type = String(headers['content-type'] || '').toLowerCase();
      if (type.startsWith('application/json')) return body.length ? request.bodyJson : {};
      return request.bodyText;
    },
    get bodyRaw() { return request.bodyText; },
  };
  return request;
}

function buildContext(req, body, logger) {
  return {
    req: buildRequest(req, body),
    res: responseBuilder(),
    log: (...messages) => logger.message('log', messages),
    error: (...messages) => logger.message('error', messages),
  };
}

// The environment plus the per-execution variables of the v2 era, taken from the request because
// a warm process's environment cannot change per call (runtimes/README.md).
function legacyVariables(payload, headers) {
  const event = headers['x-appwrite-event'] || '';
  return Object.assign({}, process.env, {
    APPWRITE_FUNCTION_TRIGGER: headers['x-appwrite-trigger'] || '',
    APPWRITE_FUNCTION_EVENT: event,
    APPWRITE_FUNCTION_EVENT_DATA: event ? payload : '',
    APPWRITE_FUNCTION_DATA: payload,
    APPWRITE_FUNCTION_USER_ID: headers['x-appwrite-user-id'] || '',
    APPWRITE_FUNCTION_JWT: headers['x-appwrite-user-jwt'] || '',
  });
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

function toBuffer(value, arrayIsBytes) {
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (arrayIsBytes && Array.isArray(value)) return Buffer.from(value);
  return Buffer.from(String(value), 'utf8');
}

// Helpers return plain values; only the one the function returns is sent.
function responseBuilder() {
  const output = (body, statusCode, headers) => ({ body, statusCode, headers: headers || {} });
  const text = (body, statusCode = 200, headers = {}) => output(toBuffer(body, false), statusCode, headers);
  return {
    text,
    send: text,
    binary: (bytes, statusCode = 200, headers = {}) => output(toBuffer(bytes, true), statusCode, headers),
    json: (obj, statusCode = 200, headers = {}) =>
      text(JSON.stringify(obj), statusCode, Object.assign({}, headers, { 'content-type': 'application/json' })),
    empty: () => text('', 204, {}),
    redirect: (url, statusCode = 301, headers = {}) =>
      text('', statusCode, Object.assign({}, headers, { location: url })),
  };
}

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

function writeOutput(res, statusCode, rawHeaders, body, logId) {
  const headers = {};
  for (const [rawKey, value] of headerEntries(rawHeaders)) {
    const key = String(rawKey).toLowerCase().trim();
    if (key.startsWith('x-open-runtimes-')) continue;
    headers[key] = Array.isArray(value) ? value.map(String) : String(value);
  }
  headers['content-type'] = contentType(Array.isArray(headers['content-type'])
    ? headers['content-type'][headers['content-type'].length - 1] : headers['content-type']);
  headers['content-length'] = String(body.length);
  headers['x-open-runtimes-log-id'] = logId;
  res.writeHead(statusCode, headers);
  res.end(body);
}

function writePlain(res, statusCode, text, extraHeaders) {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(statusCode, Object.assign({
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(body.length),
  }, extraHeaders || {}));
  res.end(body);
}

function writeJson(res, statusCode, value) {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  res.writeHead(statusCode, { 'content-type': 'application/json', 'content-length': String(body.length) });
  res.end(body);
}

// ---------------------------------------------------------------- loader

class LoadError extends Error {}

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

async function importModule(file) {
  const viaImport = () => import(pathToFileURL(file).href);
  if (file.endsWith('.mjs')) return viaImport();
  try {
    return require(file);
  } catch (err) {
    const esm = err && (err.code === 'ERR_REQUIRE_ESM' || err.code === 'ERR_REQUIRE_ASYNC_MODULE'
      || (err instanceof SyntaxError && /\b(import|export)\b/.test(err.message)));
    if (esm) return viaImport();
    throw err;
  }
}

async function loadHandler() {
  if (cachedHandler) return cachedHandler;
  const file = path.resolve(config.codeDir, config.entrypoint);
  if (!fs.existsSync(file)) {
    throw new LoadError(`Failed to load entrypoint, file ${config.entrypoint} does not exist.`);
  }
  let mod;
  try {
    mod = await importModule(file);
  } catch (err) {
    if (err instanceof SyntaxError) {
      // require() puts the offending file:line as the first line of the stack
      const where = String(err.stack || '').split('\n')[0];
      const at = where.startsWith(path.sep) || where.startsWith('file:') ? ` (at ${where})` : '';
      throw new LoadError(`Syntax error in ${config.entrypoint}: ${err.message}${at}`);
    }
    throw new LoadError(`Failed to load module: ${(err && err.stack) || err}`);
  }
  const handler = pickHandler(mod);
  if (!handler) throw new LoadError("Function signature invalid. Did you forget to export a 'main' function?");
  cachedHandler = handler;
  return handler;
}

// ---------------------------------------------------------------- server

const TIMED_OUT = Symbol('timed out');

// Soft timeout: the function keeps running, but its result and later logs are discarded.
function runWithTimeout(sink, call, seconds) {
  const work = callStore.run(sink, () => Promise.resolve().then(call));
  if (!seconds) return work;
  let timer;
  const limit = new Promise((resolve) => { timer = setTimeout(() => resolve(TIMED_OUT), seconds * 1000); });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > config.maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function handleV5(req, res) {
  const target = req.url || '/';
  const qIndex = target.indexOf('?');
  if (req.method === 'GET' && (qIndex < 0 ? target : target.slice(0, qIndex)) === '/__opr/health') {
    return writePlain(res, 200, 'OK');
  }

  const timeoutHeader = req.headers['x-open-runtimes-timeout'];
  let timeout = 0;
  if (timeoutHeader !== undefined && timeoutHeader !== '') {
    timeout = /^[0-9]+$/.test(timeoutHeader) ? parseInt(timeoutHeader, 10) : 0;
    if (timeout <= 0) {
      return writePlain(res, 500, 'Header "x-open-runtimes-timeout" must be an integer greater than 0.');
    }
  }

  if (config.secret && req.headers['x-open-runtimes-secret'] !== config.secret) {
    return writePlain(res, 500, 'Unauthorized. Provide correct "x-open-runtimes-secret" header.');
  }

  const body = await readBody(req);
  if (body === null) return writePlain(res, 413, '', { connection: 'close' });

  let logId = '';
  if (String(req.headers['x-open-runtimes-logging'] || '').toLowerCase() !== 'disabled') {
    logId = req.headers['x-open-runtimes-log-id'] || (config.development ? 'dev' : uniqid());
  }
  const logger = new Logger(logId);
  const fail = (statusCode, message) => {
    if (message) logger.message('error', [message]);
    logger.close();
    writeOutput(res, statusCode, {}, Buffer.alloc(0), logId);
  };

  let handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    return fail(503, err instanceof LoadError ? err.message : `Failed to load module: ${(err && err.stack) || err}`);
  }

  let output;
  try {
    if (handler.length === 2) {
      const headers = functionHeaders(req);
      const legacy = legacyResponse();
      const payload = body.toString('utf8');
      const reqObj = legacyRequest(payload, legacyVariables(payload, headers), headers);
      const result = await runWithTimeout(logger, () => handler(reqObj, legacy.api), timeout);
      if (result === TIMED_OUT) return fail(500, 'Execution timed out.');
      const r = responseBuilder();
      const { state } = legacy;
      output = state.isJson ? r.json(state.body, state.status) : r.text(state.called ? state.body : '', state.status);
    } else {
      const context = buildContext(req, body, logger);
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
    logger.close();
    writeOutput(res, output.statusCode === undefined ? 200 : output.statusCode, output.headers,
      toBuffer(output.body, true), logId);
  } catch (err) {
    // e.g. an invalid status code or header value chosen by the function
    if (res.headersSent) return res.destroy();
    const errors = new Logger(logId);
    errors.message('error', [err]);
    errors.close();
    writeOutput(res, 500, {}, Buffer.alloc(0), logId);
  }
}

async function handleV2(req, res) {
  const body = await readBody(req);
  if (req.headers['x-internal-challenge'] !== config.v2Key) return writeJson(res, 500, { stderr: 'Unauthorized' });
  let data = {};
  try {
    data = JSON.parse(body === null ? '' : body.toString('utf8'));
  } catch (err) {
    data = {};
  }
  if (!data || typeof data !== 'object') data = {};
  let payload = data.payload === undefined || data.payload === null ? '' : data.payload;
  if (typeof payload !== 'string') payload = JSON.stringify(payload);
  const variables = data.variables && typeof data.variables === 'object' ? data.variables : {};
  const headers = data.headers && typeof data.headers === 'object' ? data.headers : {};

  const collector = new OutputCollector();
  const reply = (status, fields) => writeJson(res, status, Object.assign(
    { stdout: collector.stdout.join('\n'), stderr: collector.stderr.join('\n') }, fields));

  let handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    collector.stderr.push(err.message || String(err));
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

function start() {
  captureNativeLogs();
  // A stray error from a function's timer or promise must not take the warm instance down.
  process.on('uncaughtException', (err) => nativeConsole.error(err));
  process.on('unhandledRejection', (err) => nativeConsole.error(err));

  const handle = config.v2Key !== undefined ? handleV2 : handleV5;
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      nativeConsole.error(err);
      if (!res.headersSent) writePlain(res, 500, '');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  server.requestTimeout = 0;
  server.listen(config.port, config.host, () => {
    nativeConsole.log('HTTP server successfully started!');
  });
}

start();
