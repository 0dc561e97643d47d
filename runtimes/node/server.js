'use strict';
// Open Runtimes adapter for Node.js (>= 16): speaks the v5 executor wire (or v2 when
// INTERNAL_RUNTIME_KEY is set) and runs the user's function. The contract itself is core.mjs,
// shared with the Deno adapter; this file supplies what is Node's own: the http server, files and
// loading the user's CommonJS or ES module. Built-in modules only, so the same files run on the
// host and inside an openruntimes/node image. Spec: docs/runtime-contract.md.

const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { pathToFileURL } = require('url');

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

function syntaxError(err) {
  if (!(err instanceof SyntaxError)) return null;
  // require() puts the offending file:line as the first line of the stack
  const where = String(err.stack || '').split('\n')[0];
  const at = where.startsWith(path.sep) || where.startsWith('file:') ? ` (at ${where})` : '';
  return `${err.message}${at}`;
}

const platform = {
  env: (name) => process.env[name],
  envObject: () => process.env,
  defaultEntrypoint: 'index.js',
  entryFile: (codeDir, entrypoint) => path.resolve(codeDir, entrypoint),
  isFile: (file) => fs.existsSync(file),
  importModule,
  syntaxError,
  mkdirs: (dir) => fs.mkdirSync(dir, { recursive: true }),
  appendLog: (file, text) => fs.appendFileSync(file, text),
  randomBytes: (n) => crypto.randomBytes(n),
};

function readBody(req, maxBodyBytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res, output) {
  const headers = Object.assign({}, output.headers, { 'content-length': String(output.body.length) });
  res.writeHead(output.statusCode, headers);
  res.end(output.body);
}

function start(adapter, startedLine) {
  const { config, nativeConsole } = adapter;
  adapter.captureNativeLogs();
  // A stray error from a function's timer or promise must not take the warm instance down.
  process.on('uncaughtException', (err) => nativeConsole.error(err));
  process.on('unhandledRejection', (err) => nativeConsole.error(err));

  const server = http.createServer((req, res) => {
    const headers = {};
    for (const key of Object.keys(req.headers)) {
      const value = req.headers[key];
      headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request = {
      method: req.method,
      target: req.url || '/',
      headers,
      readBody: () => readBody(req, config.maxBodyBytes),
      reply: (output) => send(res, output),
    };
    adapter.handle(request).catch((err) => {
      nativeConsole.error(err);
      if (!res.headersSent) send(res, adapter.plainOutput(500, ''));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65000;
  server.headersTimeout = 66000;
  server.requestTimeout = 0;
  server.listen(config.port, config.host, () => {
    nativeConsole.log(startedLine);
  });
}

import('./core.mjs').then(({ createAdapter, STARTED_LINE }) => start(createAdapter(platform), STARTED_LINE)).catch((err) => {
  console.error(err);
  process.exit(1);
});
