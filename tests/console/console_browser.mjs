// Drives the web console (/console) in headless Chromium (Debian's, through playwright-core) for
// tests/console/test_console.py. argv[2] is a JSON object (see the test for its fields); `mode` is
// "open" (a server without --api-key: pages, the run form, live lists, filters, a live build log)
// or "key" (a server with --api-key: the login flow). Waits on what the page shows, never on time.
// Prints one JSON object with what it saw; the Python test checks it and the effects on the server.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'node', 'package.json'));
const { chromium } = require('playwright-core');

const args = JSON.parse(process.argv[2]);
const consoleUrl = (p = '') => `${args.base}/console${p}?project=${encodeURIComponent(args.project)}`;
const out = { pageErrors: [] };

// The API called from outside the page (as another client would), to make things happen under it.
async function apiCall(method, p, body) {
  const headers = { 'X-Appwrite-Project': args.project, 'Content-Type': 'application/json' };
  if (args.apiKey) headers['X-Appwrite-Key'] = args.apiKey;
  const response = await fetch(`${args.base}/v1${p}`, { method, headers, body: body && JSON.stringify(body) });
  return response.json();
}

// innerText: a table's cells come separated (by tabs); `build-status` is read as written (no CSS case).
const text = (page, selector) => page.locator(selector).first().innerText();
const waitText = (page, selector, wanted) => page.waitForFunction(([s, w]) => {
  const el = document.querySelector(s);
  return el && el.textContent.includes(w);
}, [selector, wanted]);
// Everything the page holds: its DOM (attributes and form values included) and its storage.
const pageHolds = (page, secret) => page.evaluate((s) => {
  const values = [...document.querySelectorAll('input, textarea')].map((el) => el.value);
  return [document.documentElement.outerHTML, ...values, JSON.stringify(localStorage), JSON.stringify(sessionStorage),
    document.cookie].some((t) => t.includes(s));
}, secret);

async function openMode(page) {
  // Without ?project= the CLI's default project; another one picked in the header.
  await page.goto(`${args.base}/console`);
  await waitText(page, '#functions', 'No functions in project default');
  await page.fill('#project', args.project);
  await page.press('#project', 'Enter');
  await page.waitForSelector(`tr[data-function-id="${args.functionId}"]`);
  out.urlAfterProjectChange = page.url();

  // The list, then a function page by a click, by reload and by a fresh load of its URL.
  const list = await page.goto(consoleUrl());
  out.listStatus = list.status();
  out.csp = list.headers()['content-security-policy'] || '';
  await page.waitForSelector(`tr[data-function-id="${args.functionId}"]`);
  await page.click(`tr[data-function-id="${args.functionId}"] a`);
  await waitText(page, '#settings', args.runtime);
  out.urlAfterClick = page.url();
  await page.reload();
  await waitText(page, '#settings', args.runtime);
  await page.goto(consoleUrl(`/functions/${args.functionId}`));
  await waitText(page, '#settings', args.runtime);
  await waitText(page, `tr[data-variable-key="${args.plainKey}"]`, args.plainValue);
  out.secretCell = await text(page, `tr[data-variable-key="${args.secretKey}"]`);
  out.secretInPage = await pageHolds(page, args.secretValue);

  // The run form: method, path, headers, body; the response and the function's logs appear.
  await page.selectOption('#run-method', 'PUT');
  await page.fill('#run-path', '/echo?x=1');
  await page.fill('#run-headers', 'X-Console-Test: yes\nContent-Type: text/x-console');
  await page.fill('#run-body', 'from-form');
  await page.click('#run');
  await waitText(page, '#run-result #execution-logs', 'log:from-form');
  out.run = {
    id: await page.getAttribute('#run-result .execution', 'data-execution-id'),
    status: await text(page, '#run-result #execution-status'),
    responseStatus: await text(page, '#run-result #response-status'),
    responseBody: await text(page, '#run-result #response-body'),
    responseHeaders: await text(page, '#run-result #response-headers'),
    requestLine: await text(page, '#run-result #request-line'),
    requestHeaders: await text(page, '#run-result #request-headers'),
    logs: await text(page, '#run-result #execution-logs'),
  };
  await page.waitForSelector(`#executions tr[data-execution-id="${out.run.id}"]`);

  // Executions made elsewhere show up in the list without a reload.
  await page.evaluate(() => { window.notReloaded = true; });
  const outside = await apiCall('POST', `/functions/${args.functionId}/executions`, { body: 'from-outside' });
  const failed = await apiCall('POST', `/functions/${args.functionId}/executions`, { body: 'fail' });
  out.outside = { id: outside.$id, status: outside.status };
  out.failed = { id: failed.$id, status: failed.status };
  await page.waitForSelector(`#executions tr[data-execution-id="${outside.$id}"]`);
  await page.waitForSelector(`#executions tr[data-execution-id="${failed.$id}"][data-status="failed"]`);
  out.listLiveWithoutReload = await page.evaluate(() => window.notReloaded === true);
  await page.setViewportSize({ width: 1440, height: 1250 });
  await page.evaluate(() => window.scrollTo(0, 0));
  if (args.screenshot) await page.screenshot({ path: args.screenshot });

  // Filters: by status, by trigger.
  const rows = () => page.$$eval('#executions tbody tr', (trs) => trs.map((tr) => [tr.dataset.executionId, tr.dataset.status]));
  await page.selectOption('#status-filter', 'failed');
  await page.waitForFunction((id) => {
    const trs = [...document.querySelectorAll('#executions tbody tr')];
    return trs.length > 0 && trs.every((tr) => tr.dataset.status === 'failed') && trs.some((tr) => tr.dataset.executionId === id);
  }, failed.$id);
  out.failedOnly = await rows();
  await page.selectOption('#status-filter', 'completed');
  await page.waitForFunction(() => {
    const trs = [...document.querySelectorAll('#executions tbody tr')];
    return trs.length > 0 && trs.every((tr) => tr.dataset.status === 'completed');
  });
  out.completedOnly = await rows();
  await page.selectOption('#status-filter', '');
  await page.selectOption('#trigger-filter', 'schedule');
  await waitText(page, '#executions', 'No executions match');
  await page.selectOption('#trigger-filter', 'http');
  await page.waitForSelector(`#executions tr[data-execution-id="${failed.$id}"]`);
  out.httpOnly = await rows();

  // In the background: the form follows the execution until it ends.
  await page.check('#run-async');
  await page.fill('#run-body', 'from-async');
  await page.click('#run');
  await waitText(page, '#run-result #execution-logs', 'log:from-async');
  out.asyncRun = {
    id: await page.getAttribute('#run-result .execution', 'data-execution-id'),
    status: await page.locator('#run-result #execution-status').textContent(),
  };

  // An execution's own page, loaded from its URL.
  await page.goto(consoleUrl(`/functions/${args.functionId}/executions/${out.run.id}`));
  await waitText(page, '#execution-logs', 'log:from-form');
  out.executionPage = {
    requestLine: await text(page, '#request-line'),
    requestHeaders: await text(page, '#request-headers'),
    responseStatus: await text(page, '#response-status'),
    responseBody: await text(page, '#response-body'),
  };
  await page.goto(consoleUrl(`/functions/${args.functionId}/executions/${failed.$id}`));
  await waitText(page, '#execution-errors', 'console-test-failure');
  out.failedErrors = await text(page, '#execution-errors');

  // A build's log grows on the page while the build runs; it ends ready, all without a reload.
  await page.goto(consoleUrl(`/functions/${args.slowFunctionId}`));
  await waitText(page, '#build-log', 'build-step-1');
  out.buildStatusWhileWaiting = await page.locator('#build-status').textContent();
  out.stepTwoBeforeGo = (await text(page, '#build-log')).includes('build-step-2');
  await page.evaluate(() => { window.notReloaded = true; });
  fs.writeFileSync(args.goFile, 'go');
  await waitText(page, '#build-log', 'build-step-2');
  await waitText(page, '#build-status', 'ready');
  out.buildLogLiveWithoutReload = await page.evaluate(() => window.notReloaded === true);

  // Last, as its 404s are what the browser reports as errors: a well-formed id of no function.
  const errorsSoFar = [...out.pageErrors];
  out.missingStatus = (await page.goto(consoleUrl('/functions/nosuchfn'))).status();
  await waitText(page, '.problem', 'could not be found');
  out.pageErrors = errorsSoFar;
}

async function keyMode(page) {
  await page.goto(consoleUrl());
  await page.waitForSelector('#login-form');
  out.functionsBeforeLogin = await page.locator(`tr[data-function-id="${args.functionId}"]`).count();
  await page.fill('#login-form input[name="password"]', 'not-the-key');
  await page.click('#login-form button[type="submit"]');
  await waitText(page, '#login-form .error', 'Invalid credentials');
  await page.fill('#login-form input[name="password"]', args.apiKey);
  await page.click('#login-form button[type="submit"]');
  await page.waitForSelector(`tr[data-function-id="${args.functionId}"]`);
  out.keyInPageAfterLogin = await pageHolds(page, args.apiKey);
  // The session survives a reload (an HttpOnly cookie: the page cannot read it).
  await page.goto(consoleUrl(`/functions/${args.functionId}`));
  await page.waitForSelector('#logout');
  await page.fill('#run-body', 'from-logged-in-form');
  await page.click('#run');
  await waitText(page, '#run-result #response-body', '"ran"');
  out.runStatus = await text(page, '#run-result #execution-status');
  out.keyInPageAfterRun = await pageHolds(page, args.apiKey);
  await page.click('#logout');
  await page.waitForSelector('#login-form');
  await page.reload();
  await page.waitForSelector('#login-form');
  out.loggedOut = true;
}

const browser = await chromium.launch({ executablePath: args.chromium, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.setDefaultTimeout(120000);
  page.on('pageerror', (error) => out.pageErrors.push(String(error)));
  page.on('console', (message) => {
    // Under --api-key, the calls before the login and the refused login are 401s the browser reports.
    const expected = args.mode === 'key' && message.text().includes('status of 401');
    if (message.type() === 'error' && !expected) out.pageErrors.push(message.text());
  });
  try {
    await (args.mode === 'key' ? keyMode(page) : openMode(page));
  } catch (error) {
    // What the page showed when a wait gave up, for the test's failure message.
    console.error(`at ${page.url()}:\n${await page.locator('body').innerText().catch(() => '')}`);
    console.error(JSON.stringify(out));
    throw error;
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
