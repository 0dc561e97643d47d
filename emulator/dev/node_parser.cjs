// A resident node process that only parses files (vm.compileFunction as CommonJS, as an ES module
// when the code needs it). Reads {"id", "file"} lines on stdin, answers {"id", "error"} lines
// ("" when the file parses). Started by emulator/dev/syntax.py; .cjs so no package.json changes its module type.
const vm = require('vm'), fs = require('fs'), readline = require('readline');
const ESM_ONLY = /Cannot use import statement|Unexpected token 'export'|import\.meta|await is only valid/;
function parses(file) {
  let src = fs.readFileSync(file, 'utf8');
  if (src.startsWith('#!')) src = '//' + src.slice(2);
  const asModule = () => new vm.SourceTextModule(src, { identifier: file });
  if (file.endsWith('.mjs')) return asModule();
  try {
    vm.compileFunction(src, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
  } catch (e) {
    if (file.endsWith('.cjs') || !(e instanceof SyntaxError) || !ESM_ONLY.test(e.message)) throw e;
    asModule();
  }
}
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, file } = JSON.parse(line);
  let error = '';
  try { parses(file); } catch (e) { error = String((e && e.stack) || e).split('\n    at ')[0] || 'SyntaxError'; }
  process.stdout.write(JSON.stringify({ id, error }) + '\n');
});
