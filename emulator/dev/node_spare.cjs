'use strict';
// Run by the local executor as `node node_spare.cjs ADAPTER`: an instance started ahead of need
// (LocalExecutor.start_ahead, for `dev`'s next hot swap). It loads the built-in modules and the
// adapter's contract module (core.mjs, no function code), then waits; one line on stdin
// (`go PORT`) releases it and ADAPTER runs as if started as `node ADAPTER`. Any other end of stdin
// (the executor stopped it, or died) ends it. Nothing of the function is loaded before the
// release: its new source files are laid over the build only later.
const path = require('path');
const { pathToFileURL } = require('url');

for (const name of ['http', 'fs', 'crypto', 'async_hooks', 'util']) require(name);
const adapter = path.resolve(process.argv[2]);
// The adapter imports it by this URL: the module cache then hands it over at once.
import(pathToFileURL(path.join(path.dirname(adapter), 'core.mjs')).href).catch(() => {});

let received = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  received += chunk;
  const end = received.indexOf('\n');
  if (end < 0) return;
  const [word, port, extra] = received.slice(0, end).split(' ');
  process.stdin.removeAllListeners();
  process.stdin.destroy();
  // The port is picked at the release, so no other server can have taken it meanwhile.
  if (word !== 'go' || !/^\d+$/.test(port || '') || extra !== undefined) process.exit(0);
  process.env.OPEN_RUNTIMES_PORT = port;
  process.argv.splice(1, 1); // as `node ADAPTER` has it
  require(adapter);
});
process.stdin.on('end', () => process.exit(0));
