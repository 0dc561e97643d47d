// Building DOM nodes from data. Text always goes in as text nodes (never parsed as HTML), so
// whatever a function returns or logs is shown, not run.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name === 'value' || name === 'checked' || name === 'selected') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...nodes(children));
  return el;
}

function nodes(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : String(c)));
}

export function fill(el, ...children) {
  el.replaceChildren(...nodes(children));
  return el;
}

// A <pre> for text that may be long (logs, bodies); an empty one says so.
export function block(text, empty = 'empty') {
  return text ? h('pre', { class: 'block' }, text) : h('p', { class: 'muted' }, `(${empty})`);
}

export function badge(status) {
  return h('span', { class: `badge s-${status || 'none'}` }, status || '—');
}

export function when(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function seconds(value) {
  return typeof value === 'number' ? `${value.toFixed(3)} s` : '—';
}

export function headerTable(headers) {
  if (!headers || !headers.length) return h('p', { class: 'muted' }, '(no headers)');
  return h('table', { class: 'kv' }, headers.map((hd) => h('tr', null, h('th', null, hd.name), h('td', null, hd.value))));
}

export function keyValues(pairs) {
  return h('table', { class: 'kv' }, pairs.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v))));
}
