'use strict';
// Run as `node node_spare.cjs ADAPTER`: an instance started ahead of need. It loads the built-in
// modules and the adapter's contract module (core.mjs, no function code), then waits; one line on
// stdin releases it and ADAPTER runs as if started as `node ADAPTER`. Any other end of stdin (the
// executor stopped it, or died) ends it. Two kinds, told apart by the release line:
// - `go PORT`: started with the instance's environment and folder (LocalExecutor.start_ahead, for
//   `dev`'s next hot swap, whose new source files are laid over the build only later);
// - `go PORT JSON`: started before the function had a build (executors/early.py, `dev`'s first
//   deployments); JSON holds the instance's environment and folder, taken before the adapter runs.
// Nothing of the function is loaded before the release.
const path = require('path');
const { pathToFileURL } = require('url');

for (const name of ['http', 'fs', 'crypto', 'async_hooks', 'util']) require(name);
const adapter = path.resolve(process.argv[2]);
// The adapter imports it by this URL: the module cache then hands it over at once.
import(pathToFileURL(path.join(path.dirname(adapter), 'core.mjs')).href).catch(() => {});

function become(start) {
  let given;
  try {
    given = JSON.parse(start);
  } catch (err) {
    process.exit(0);
  }
  if (!given || typeof given.env !== 'object' || typeof given.cwd !== 'string') process.exit(0);
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, given.env);
  process.chdir(given.cwd);
}

let received = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  received += chunk;
  const end = received.indexOf('\n');
  if (end < 0) return;
  process.stdin.removeAllListeners();
  process.stdin.destroy();
  // `go PORT` or `go PORT JSON`. The port is picked at the release, so no other server can have
  // taken it meanwhile.
  const release = /^go (\d+)(?: (.*))?$/.exec(received.slice(0, end));
  if (release === null) process.exit(0);
  if (release[2] !== undefined) become(release[2]);
  process.env.OPEN_RUNTIMES_PORT = release[1];
  process.argv.splice(1, 1); // as `node ADAPTER` has it
  require(adapter);
});
process.stdin.on('end', () => process.exit(0));
