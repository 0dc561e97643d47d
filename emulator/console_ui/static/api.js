// The emulator's /v1 API, same-origin: the console login cookie goes along by itself (it is
// HttpOnly: this page never holds a credential), the project travels as X-Appwrite-Project.

const PROJECT_KEY = 'emulator-console-project';
export const DEFAULT_PROJECT = 'default';
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$/;

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(status, message, type) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

export function validId(value) {
  return typeof value === 'string' && ID.test(value);
}

// The project: ?project= in the address, else the one used last, else the CLI's default.
export function currentProject() {
  const fromUrl = new URLSearchParams(window.location.search).get('project');
  if (validId(fromUrl)) return fromUrl;
  const remembered = window.localStorage.getItem(PROJECT_KEY);
  return validId(remembered) ? remembered : DEFAULT_PROJECT;
}

export function rememberProject(project) {
  window.localStorage.setItem(PROJECT_KEY, project);
}

export async function api(method, path, body) {
  const headers = { 'X-Appwrite-Project': currentProject() };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`/v1${path}`, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401 && data && data.type === 'general_unauthorized_scope') {
    throw new AuthError(data.message);
  }
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.message) || text || response.statusText, data && data.type);
  }
  return data;
}

// `path` with Appwrite's JSON queries, e.g. listPath('/functions', [q('limit', null, [100])]).
export function q(method, attribute, values) {
  const query = { method };
  if (attribute) query.attribute = attribute;
  if (values) query.values = values;
  return JSON.stringify(query);
}

export function listPath(path, queries) {
  return `${path}?${queries.map((query) => `queries[]=${encodeURIComponent(query)}`).join('&')}`;
}

// Calls `load` again and again. While it reports activity (returns true: something is building
// or running, or the data changed) it comes back after `min` ms; while nothing changes the pause
// doubles up to `max`, and after an error too, so an idle console costs the server next to nothing.
// A hidden tab is not polled. poke() asks for a fresh load now (after the user changed something).
export class Poller {
  constructor(load, { min = 500, max = 5000, onError = null } = {}) {
    Object.assign(this, { load, min, max, onError });
    this.delay = min;
    this.timer = null;
    this.running = false;
    this.again = false;
    this.stopped = false;
    this.onVisible = () => { if (!document.hidden) this.poke(); };
    document.addEventListener('visibilitychange', this.onVisible);
  }

  start() {
    this.tick();
    return this;
  }

  async tick() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    let active = false;
    try {
      active = await this.load();
    } catch (error) {
      if (this.onError) this.onError(error);
      if (error instanceof AuthError) this.stop();
    }
    this.running = false;
    if (this.stopped) return;
    this.delay = active || this.again ? this.min : Math.min(this.max, this.delay * 2);
    if (this.again) {
      this.again = false;
      this.tick();
    } else if (!document.hidden) {
      this.timer = setTimeout(() => this.tick(), this.delay);
    }
  }

  poke() {
    this.delay = this.min;
    this.tick();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    document.removeEventListener('visibilitychange', this.onVisible);
  }
}
