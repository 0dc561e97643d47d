// The console: a router over three pages (functions, a function, an execution), each reading the
// emulator's /v1 API and polling it (api.js Poller) so builds and executions show up as they happen.
import { api, ApiError, AuthError, currentProject, listPath, Poller, q, rememberProject, validId } from './api.js';
import { badge, block, fill, h, headerTable, keyValues, seconds, when } from './dom.js';

const app = document.getElementById('app');
const crumbs = document.getElementById('crumbs');
const sessionBox = document.getElementById('session');
const projectForm = document.getElementById('project-form');
const projectInput = document.getElementById('project');

const BUILDING = new Set(['waiting', 'processing', 'building']);
const RUNNING = new Set(['waiting', 'processing']);
const FINAL_EXECUTION = new Set(['completed', 'failed', 'cancelled']);
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const EXECUTION_STATUSES = ['waiting', 'scheduled', 'processing', 'completed', 'failed', 'cancelled'];
const TRIGGERS = ['http', 'schedule', 'event'];

let stops = []; // what the current page must stop when another one is shown (its pollers)

// -- navigation -------------------------------------------------------------------------------
function href(path) {
  return `${path}?project=${encodeURIComponent(currentProject())}`;
}

function link(path, ...children) {
  return h('a', { href: href(path), 'data-nav': true }, ...children);
}

function functionPath(functionId) {
  return `/console/functions/${encodeURIComponent(functionId)}`;
}

function executionPath(functionId, executionId) {
  return `${functionPath(functionId)}/executions/${encodeURIComponent(executionId)}`;
}

function navigate(url) {
  window.history.pushState(null, '', url);
  render();
}

document.addEventListener('click', (event) => {
  const anchor = event.target.closest('a[data-nav]');
  if (!anchor || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute('href'));
});
window.addEventListener('popstate', render);

function route() {
  const parts = window.location.pathname.replace(/\/+$/, '').split('/').slice(2).map(decodeURIComponent);
  if (parts.length === 0) return { page: functionsPage };
  if (parts[0] === 'functions' && parts.length === 2 && validId(parts[1])) {
    return { page: functionPage, functionId: parts[1] };
  }
  if (parts[0] === 'functions' && parts.length === 4 && parts[2] === 'executions' && validId(parts[1])
      && validId(parts[3])) {
    return { page: executionPage, functionId: parts[1], executionId: parts[3] };
  }
  return { page: notFoundPage };
}

function render() {
  stops.forEach((stop) => stop());
  stops = [];
  projectInput.value = currentProject();
  rememberProject(currentProject());
  refreshSession();
  const current = route();
  current.page(current);
}

// A poller owned by the current page; errors go to `problem` (an element of the page).
function poll(load, problem, options = {}) {
  const poller = new Poller(async () => {
    const active = await load();
    fill(problem);
    return active;
  }, { ...options, onError: (error) => showProblem(problem, error) });
  stops.push(() => poller.stop());
  return poller.start();
}

function showProblem(where, error) {
  if (error instanceof AuthError) {
    loginPage(error.message);
  } else if (error instanceof ApiError) {
    fill(where, h('p', { class: 'error', role: 'alert' }, `${error.message} (${error.status} ${error.type || ''})`));
  } else {
    fill(where, h('p', { class: 'error', role: 'alert' }, `Cannot reach the emulator (${error.message}); retrying.`));
  }
}

function problemBox() {
  return h('div', { class: 'problem' });
}

function card(title, ...children) {
  return h('section', { class: 'card' }, h('h2', null, title), ...children);
}

// -- project and session ----------------------------------------------------------------------
projectForm.addEventListener('submit', (event) => {
  event.preventDefault();
  changeProject();
});
projectInput.addEventListener('change', changeProject);

function changeProject() {
  const value = projectInput.value.trim();
  projectInput.setCustomValidity(validId(value) ? '' : 'A project id: letters, digits, ".", "-", "_", up to 36');
  if (!projectInput.reportValidity() || value === currentProject()) return;
  rememberProject(value);
  const url = new URL(window.location.href);
  url.searchParams.set('project', value);
  navigate(`/console${url.search}`); // another project's function is not this one: back to the list
}

// Whether this browser logged in here (a flag, not the session: the cookie is HttpOnly), so an open
// server, where nobody logs in, is not asked for an account on every page.
const LOGGED_IN = 'emulator-console-logged-in';

async function refreshSession() {
  if (!window.localStorage.getItem(LOGGED_IN)) {
    fill(sessionBox);
    return;
  }
  try {
    const account = await api('GET', '/account');
    fill(sessionBox, h('span', { class: 'muted' }, account.email), ' ',
      h('button', { type: 'button', id: 'logout', onclick: logOut }, 'Log out'));
  } catch {
    window.localStorage.removeItem(LOGGED_IN); // the session ended (logged out, expired, another --api-key)
    fill(sessionBox);
  }
}

async function logOut() {
  window.localStorage.removeItem(LOGGED_IN);
  try {
    await api('DELETE', '/account/sessions/current');
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
  }
  render();
}

function loginPage(message) {
  stops.forEach((stop) => stop());
  stops = [];
  fill(crumbs);
  const email = h('input', { name: 'email', type: 'email', value: 'you@localhost', required: true,
    autocomplete: 'username' });
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card login', id: 'login-form' },
    h('h2', null, 'Log in'),
    h('p', null, 'This emulator runs with --api-key. Log in with any email and the API key as the password: the '
      + 'server answers with a session cookie this page cannot read, and the key is not kept here.'),
    h('p', { class: 'muted' }, message),
    h('label', null, 'Email', email),
    h('label', null, 'API key', password),
    h('button', { type: 'submit' }, 'Log in'),
    error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const secret = password.value;
    password.value = '';
    try {
      await api('POST', '/account/sessions/email', { email: email.value.trim(), password: secret });
      window.localStorage.setItem(LOGGED_IN, '1');
      render();
    } catch (failure) {
      fill(error, failure.message);
    }
  });
  fill(app, form);
  password.focus();
}

// -- functions --------------------------------------------------------------------------------
function functionsPage() {
  fill(crumbs, h('span', null, 'Functions'));
  const list = h('div', { id: 'functions' }, h('p', { class: 'muted' }, 'Loading…'));
  const problem = problemBox();
  fill(app, card(`Functions in project ${currentProject()}`, problem, list));
  let shown = '';
  poll(async () => {
    const data = await api('GET', listPath('/functions', [q('limit', null, [100])]));
    const busy = data.functions.some((fn) => BUILDING.has(fn.latestDeploymentStatus));
    const key = JSON.stringify(data);
    if (key === shown) return busy;
    shown = key;
    fill(list, data.total ? functionTable(data.functions) : h('p', { class: 'muted' },
      `No functions in project ${currentProject()} yet. Create one with `, h('code', null, 'python -m emulator init'),
      ' and ', h('code', null, 'dev'), ', or pick another project (the projectId of appwrite.config.json) above.'));
    return true;
  }, problem);
}

function functionTable(functions) {
  return h('table', { class: 'list' },
    h('thead', null, h('tr', null, ['Name', 'ID', 'Runtime', 'Enabled', 'Active deployment', 'Latest build']
      .map((title) => h('th', null, title)))),
    h('tbody', null, functions.map((fn) => h('tr', { dataset: { functionId: fn.$id } },
      h('td', null, link(functionPath(fn.$id), fn.name || fn.$id)),
      h('td', { class: 'mono' }, fn.$id),
      h('td', null, fn.runtime),
      h('td', null, fn.enabled ? 'yes' : 'no'),
      h('td', { class: 'mono' }, fn.deploymentId || '—'),
      h('td', null, badge(fn.latestDeploymentStatus))))));
}

// -- one function -----------------------------------------------------------------------------
function functionPage({ functionId }) {
  fill(crumbs, link('/console', 'Functions'), ' / ', h('span', { class: 'mono' }, functionId));
  const settings = h('div', { id: 'settings' }, h('p', { class: 'muted' }, 'Loading…'));
  const variables = h('div', { id: 'variables' });
  const deployments = h('div', { id: 'deployments' });
  const buildLog = h('div', { id: 'build-log-panel' });
  const executions = h('div', { id: 'executions' });
  const problems = [problemBox(), problemBox(), problemBox()];
  const filters = { status: '', trigger: '' };
  let executionPoller = null;
  const filterBar = h('div', { class: 'filters' },
    filterSelect('status-filter', 'Status', EXECUTION_STATUSES, (value) => { filters.status = value; executionPoller.poke(); }),
    filterSelect('trigger-filter', 'Trigger', TRIGGERS, (value) => { filters.trigger = value; executionPoller.poke(); }));
  fill(app, h('div', { class: 'columns' },
    h('div', null,
      card('Run', runForm(functionId, () => executionPoller.poke())),
      card('Settings', problems[0], settings),
      card('Variables', variables)),
    h('div', null,
      card('Executions', filterBar, problems[2], executions),
      card('Deployments', problems[1], deployments, buildLog))));

  poll(async () => {
    const [fn, vars] = await Promise.all([
      api('GET', `/functions/${encodeURIComponent(functionId)}`),
      api('GET', `/functions/${encodeURIComponent(functionId)}/variables`),
    ]);
    fill(settings, settingsTable(fn));
    fill(variables, variableTable(vars.variables));
    return false;
  }, problems[0], { min: 2000, max: 15000 });

  let selected = '';
  let shownDeployments = '';
  const deploymentPoller = poll(async () => {
    const data = await api('GET', listPath(`/functions/${encodeURIComponent(functionId)}/deployments`,
      [q('orderDesc', '$createdAt'), q('limit', null, [20])]));
    const key = JSON.stringify(data) + selected;
    const busy = data.deployments.some((dep) => BUILDING.has(dep.status));
    if (key === shownDeployments) return busy;
    shownDeployments = key;
    const chosen = data.deployments.find((dep) => dep.$id === selected) || data.deployments[0];
    fill(deployments, data.total ? deploymentTable(data.deployments, chosen, (id) => {
      selected = id;
      deploymentPoller.poke();
    }) : h('p', { class: 'muted' }, 'No deployments yet.'));
    fill(buildLog, chosen ? h('div', null,
      h('h3', null, 'Build log of ', h('span', { class: 'mono' }, chosen.$id), ' ', h('span', { id: 'build-status' }, badge(chosen.status))),
      h('pre', { class: 'block log', id: 'build-log' }, chosen.buildLogs || '(no output yet)')) : null);
    return true;
  }, problems[1]);

  let seen = null; // the ids the list showed last time: rows not among them are marked new
  let shownExecutions = '';
  executionPoller = poll(async () => {
    const queries = [q('orderDesc', '$createdAt'), q('limit', null, [50])];
    if (filters.status) queries.push(q('equal', 'status', [filters.status]));
    if (filters.trigger) queries.push(q('equal', 'trigger', [filters.trigger]));
    const data = await api('GET', listPath(`/functions/${encodeURIComponent(functionId)}/executions`, queries));
    const busy = data.executions.some((ex) => RUNNING.has(ex.status));
    const key = JSON.stringify(data) + JSON.stringify(filters);
    if (key === shownExecutions) return busy;
    shownExecutions = key;
    fill(executions, data.total ? executionTable(functionId, data.executions, seen)
      : h('p', { class: 'muted' }, 'No executions match.'));
    seen = new Set(data.executions.map((ex) => ex.$id));
    return true;
  }, problems[2]);
}

function filterSelect(id, label, values, onChange) {
  const select = h('select', { id }, h('option', { value: '' }, 'all'), values.map((v) => h('option', { value: v }, v)));
  select.addEventListener('change', () => onChange(select.value));
  return h('label', null, `${label} `, select);
}

function settingsTable(fn) {
  const list = (values) => (values && values.length ? values.join(', ') : '—');
  return keyValues([
    ['ID', h('span', { class: 'mono' }, fn.$id)],
    ['Name', fn.name],
    ['Runtime', fn.runtime],
    ['Entrypoint', fn.entrypoint || '—'],
    ['Build commands', fn.commands ? h('code', null, fn.commands) : '—'],
    ['Enabled', fn.enabled ? 'yes' : 'no'],
    ['Logging', fn.logging ? 'yes' : 'no'],
    ['Timeout', `${fn.timeout} s`],
    ['Execute access', list(fn.execute)],
    ['Events', list(fn.events)],
    ['Schedule', fn.schedule || '—'],
    ['Scopes', list(fn.scopes)],
    ['Specification', fn.runtimeSpecification],
    ['Active deployment', fn.deploymentId ? h('span', { class: 'mono' }, fn.deploymentId) : '—'],
    ['Created', when(fn.$createdAt)],
    ['Updated', when(fn.$updatedAt)],
  ]);
}

function variableTable(variables) {
  if (!variables.length) return h('p', { class: 'muted' }, 'No variables.');
  return h('table', { class: 'list' },
    h('thead', null, h('tr', null, h('th', null, 'Key'), h('th', null, 'Value'))),
    h('tbody', null, variables.map((v) => h('tr', { dataset: { variableKey: v.key } },
      h('td', { class: 'mono' }, v.key),
      // A secret's value is never put in the page (the API does not send it either).
      h('td', null, v.secret ? h('span', { class: 'muted secret' }, 'secret (hidden)') : h('span', { class: 'mono' }, v.value))))));
}

function deploymentTable(deployments, chosen, select) {
  return h('table', { class: 'list' },
    h('thead', null, h('tr', null, ['ID', 'Status', 'Created', 'Build time', 'Size', ''].map((t) => h('th', null, t)))),
    h('tbody', null, deployments.map((dep) => h('tr', {
      class: chosen && dep.$id === chosen.$id ? 'chosen' : '', dataset: { deploymentId: dep.$id },
    },
    h('td', { class: 'mono' }, dep.$id),
    h('td', null, badge(dep.status)),
    h('td', null, when(dep.$createdAt)),
    h('td', null, dep.buildDuration ? `${dep.buildDuration} s` : '—'),
    h('td', null, `${Math.ceil((dep.totalSize || dep.sourceSize || 0) / 1024)} KiB`),
    h('td', null, h('button', { type: 'button', class: 'small', onclick: () => select(dep.$id) }, 'Build log'))))));
}

function executionTable(functionId, executions, seen) {
  return h('table', { class: 'list' },
    h('thead', null, h('tr', null, ['Created', 'ID', 'Trigger', 'Request', 'Code', 'Status', 'Duration']
      .map((t) => h('th', null, t)))),
    h('tbody', null, executions.map((ex) => h('tr', {
      class: seen && !seen.has(ex.$id) ? 'new' : '', dataset: { executionId: ex.$id, status: ex.status },
    },
    h('td', null, when(ex.$createdAt)),
    h('td', { class: 'mono' }, link(executionPath(functionId, ex.$id), ex.$id)),
    h('td', null, ex.trigger),
    h('td', { class: 'mono' }, `${ex.requestMethod} ${ex.requestPath}`),
    h('td', null, ex.responseStatusCode || '—'),
    h('td', null, badge(ex.status)),
    h('td', null, seconds(ex.duration))))));
}

// "Name: value" lines to an object; a line without a colon is an error.
function parseHeaders(text) {
  const headers = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const at = line.indexOf(':');
    if (at <= 0) throw new Error(`Not a header (Name: value): ${line}`);
    headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

function runForm(functionId, executed) {
  const method = h('select', { name: 'method', id: 'run-method' }, METHODS.map((m) => h('option', { value: m, selected: m === 'POST' }, m)));
  const path = h('input', { name: 'path', id: 'run-path', value: '/', spellcheck: 'false' });
  const headers = h('textarea', { name: 'headers', id: 'run-headers', rows: 3, spellcheck: 'false',
    placeholder: 'Content-Type: application/json' });
  const body = h('textarea', { name: 'body', id: 'run-body', rows: 5, spellcheck: 'false' });
  const background = h('input', { type: 'checkbox', name: 'async', id: 'run-async' });
  const button = h('button', { type: 'submit', id: 'run' }, 'Run');
  const result = h('div', { id: 'run-result' });
  let resultPoller = null;
  const form = h('form', { class: 'run', id: 'run-form' },
    h('div', { class: 'row' }, h('label', null, 'Method', method), h('label', { class: 'grow' }, 'Path', path)),
    h('label', null, 'Headers (one "Name: value" a line)', headers),
    h('label', null, 'Body', body),
    h('div', { class: 'row' }, h('label', { class: 'inline' }, background, ' in the background (async)'), button),
    result);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (resultPoller) resultPoller.stop();
    let payload;
    try {
      payload = { method: method.value, path: path.value || '/', headers: parseHeaders(headers.value),
        body: body.value, async: background.checked };
    } catch (error) {
      fill(result, h('p', { class: 'error' }, error.message));
      return;
    }
    button.disabled = true;
    fill(result, h('p', { class: 'muted' }, 'Running…'));
    try {
      const execution = await api('POST', `/functions/${encodeURIComponent(functionId)}/executions`, payload);
      executed();
      const show = (ex) => fill(result, h('p', null, link(executionPath(functionId, ex.$id), 'Open this execution')),
        executionDetails(ex, ex === execution));
      show(execution);
      if (!FINAL_EXECUTION.has(execution.status)) { // async: follow it until it ends
        const problem = problemBox();
        result.prepend(problem);
        resultPoller = poll(async () => {
          const ex = await api('GET', `/functions/${encodeURIComponent(functionId)}/executions/${execution.$id}`);
          show(ex);
          if (FINAL_EXECUTION.has(ex.status)) resultPoller.stop();
          return true;
        }, problem);
      }
    } catch (error) {
      if (error instanceof AuthError) {
        loginPage(error.message);
        return;
      }
      fill(result, h('p', { class: 'error', role: 'alert' }, error.message));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// -- one execution ----------------------------------------------------------------------------
// `answered`: `ex` is the answer to the request that ran it, the only one that carries the response
// body (as in Appwrite, a stored execution keeps the status and headers, not the body).
function executionDetails(ex, answered = false) {
  return h('div', { class: 'execution', dataset: { executionId: ex.$id } },
    keyValues([
      ['ID', h('span', { class: 'mono' }, ex.$id)],
      ['Status', h('span', { id: 'execution-status' }, badge(ex.status))],
      ['Trigger', ex.trigger],
      ['Duration', seconds(ex.duration)],
      ['Created', when(ex.$createdAt)],
      ['Scheduled at', ex.scheduledAt ? when(ex.scheduledAt) : '—'],
      ['Deployment', h('span', { class: 'mono' }, ex.deploymentId || '—')],
    ]),
    h('h3', null, 'Request'),
    h('p', { class: 'mono', id: 'request-line' }, `${ex.requestMethod} ${ex.requestPath}`),
    h('div', { id: 'request-headers' }, headerTable(ex.requestHeaders)),
    h('h3', null, 'Response ', h('span', { class: 'mono', id: 'response-status' }, ex.responseStatusCode)),
    h('div', { id: 'response-headers' }, headerTable(ex.responseHeaders)),
    h('div', { id: 'response-body' }, answered || ex.responseBody ? block(ex.responseBody, 'empty body')
      : h('p', { class: 'muted' }, '(not kept: the body goes only to the request that ran the function; run it from '
        + "the function's page to see one)")),
    h('h3', null, 'Logs'),
    h('div', { id: 'execution-logs' }, block(ex.logs, 'no logs')),
    h('h3', null, 'Errors'),
    h('div', { id: 'execution-errors' }, block(ex.errors, 'no errors')));
}

function executionPage({ functionId, executionId }) {
  fill(crumbs, link('/console', 'Functions'), ' / ', link(functionPath(functionId), functionId), ' / ',
    h('span', { class: 'mono' }, executionId));
  const details = h('div', { id: 'execution' }, h('p', { class: 'muted' }, 'Loading…'));
  const problem = problemBox();
  fill(app, card('Execution', problem, details));
  let shown = '';
  const poller = poll(async () => {
    const ex = await api('GET', `/functions/${encodeURIComponent(functionId)}/executions/${encodeURIComponent(executionId)}`);
    const key = JSON.stringify(ex);
    if (key !== shown) fill(details, executionDetails(ex));
    shown = key;
    if (FINAL_EXECUTION.has(ex.status)) poller.stop();
    return true;
  }, problem);
}

function notFoundPage() {
  fill(crumbs);
  fill(app, card('Not found', h('p', null, 'No such console page. ', link('/console', 'All functions'))));
}

render();
