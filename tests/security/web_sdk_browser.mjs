// Drives headless Chromium (Debian's, through playwright-core) for tests/security/test_web_sdk_browser.py.
// argv[2] is a JSON object: {okPage, evilPage, endpoint, reboundUrl, project, functionId, chromium}.
// Prints one JSON object with what each page saw; the Python test checks the effects on the server.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'node', 'package.json'));
const { chromium } = require('playwright-core');

const args = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: args.chromium,
  // evil.example resolves to loopback, so the "foreign" page still only talks to 127.0.0.1.
  args: ['--host-resolver-rules=MAP evil.example 127.0.0.1', '--no-sandbox'],
});
const out = {};
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(90000);

  // 1. An allowed page (loopback, another port): the real web SDK runs the function.
  await page.goto(args.okPage);
  out.allowed = await page.evaluate(async ([endpoint, project, functionId]) => {
    const client = new Appwrite.Client().setEndpoint(endpoint).setProject(project);
    try {
      const execution = await new Appwrite.Functions(client).createExecution(functionId, 'from-browser');
      return { status: execution.status, body: execution.responseBody };
    } catch (e) {
      return { error: String(e) };
    }
  }, [args.endpoint, args.project, args.functionId]);

  // 2. A foreign page: simple cross-origin requests (no preflight), the SDK, a sandboxed frame.
  await page.goto(args.evilPage);
  out.foreign = await page.evaluate(async ([endpoint, functionId]) => {
    const exec = `${endpoint}/functions/${functionId}/executions`;
    const seen = {};
    const send = async (name, url, init) => {
      try {
        const r = await fetch(url, { method: 'POST', mode: 'no-cors', ...init });
        seen[name] = `sent:${r.type}`;
      } catch (e) {
        seen[name] = `error:${e}`;
      }
    };
    const form = new FormData();
    form.append('body', 'evil-multipart');
    await Promise.all([
      send('text', exec, { headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ body: 'evil-text' }) }),
      send('urlencoded', exec, { body: new URLSearchParams({ body: 'evil-form' }) }),
      send('multipart', exec, { body: form }),
      send('create', `${endpoint}/functions`, {
        headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify({ functionId: 'evilfn', name: 'evil', runtime: 'python-3.11' }),
      }),
    ]);
    try {
      const r = await fetch(`${endpoint}/functions`, { credentials: 'include' });
      seen.read = `read:${r.status}`;
    } catch (e) {
      seen.read = 'blocked';
    }
    try {
      const client = new Appwrite.Client().setEndpoint(endpoint).setProject('console');
      await new Appwrite.Functions(client).createExecution(functionId, 'evil-sdk');
      seen.sdk = 'ran';
    } catch (e) {
      seen.sdk = 'blocked';
    }
    // A sandboxed frame sends `Origin: null`.
    seen.nullOrigin = await new Promise((resolve) => {
      window.addEventListener('message', (event) => resolve(event.data));
      const frame = document.createElement('iframe');
      frame.sandbox = 'allow-scripts';
      frame.srcdoc = `<script>fetch(${JSON.stringify(exec)}, {method: 'POST', mode: 'no-cors',
        headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({body: 'evil-null'})})
        .then(r => parent.postMessage('sent:' + r.type, '*'), e => parent.postMessage('error:' + e, '*'));<\/script>`;
      document.body.appendChild(frame);
    });
    return seen;
  }, [args.endpoint, args.functionId]);

  // 3. A plain HTML form post from the foreign page (a top-level navigation).
  const [formResponse] = await Promise.all([
    page.waitForNavigation(),
    page.evaluate(([endpoint, functionId]) => {
      const form = document.createElement('form');
      form.method = 'POST';
      form.enctype = 'text/plain';
      form.action = `${endpoint}/functions/${functionId}/executions`;
      const input = document.createElement('input');
      input.name = '{"body":"evil-navigation","x":"';
      input.value = '"}';
      form.appendChild(input);
      document.body.appendChild(form);
      form.submit();
    }, [args.endpoint, args.functionId]),
  ]);
  out.formPost = formResponse ? formResponse.status() : null;

  // 4. DNS rebinding: the emulator's own port under a foreign name, then a same-origin POST from it.
  const rebound = await page.goto(args.reboundUrl);
  out.rebound = rebound ? rebound.status() : null;
  out.reboundPost = await page.evaluate(async (functionId) => {
    const r = await fetch(`/v1/functions/${functionId}/executions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ body: 'evil-rebound' }),
    });
    return r.status;
  }, args.functionId);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
