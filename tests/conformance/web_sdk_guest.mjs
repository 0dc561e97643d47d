// Drives headless Chromium (Debian's, through playwright-core) for test_execute_permissions.py:
// a loopback page runs createExecution through the real `appwrite` web SDK without any key.
// argv[2] is a JSON object: {page, endpoint, project, chromium, open, closed}. Prints what the page saw.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'node', 'package.json'));
const { chromium } = require('playwright-core');

const args = JSON.parse(process.argv[2]);
const browser = await chromium.launch({ executablePath: args.chromium, args: ['--no-sandbox'] });
let out;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(90000);
  await page.goto(args.page);
  out = await page.evaluate(async ({ endpoint, project, open, closed }) => {
    const functions = new Appwrite.Functions(new Appwrite.Client().setEndpoint(endpoint).setProject(project));
    const seen = {};
    try {
      const execution = await functions.createExecution(open, 'from-browser');
      seen.open = { status: execution.status, body: execution.responseBody };
    } catch (e) {
      seen.open = { error: String(e), code: e.code, type: e.type };
    }
    try {
      await functions.createExecution(closed, 'must-not-run');
      seen.closed = 'ran';
    } catch (e) {
      seen.closed = { code: e.code, type: e.type };
    }
    return seen;
  }, args);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
