// Building the page: elements, lists that update in place, times, and messages to people.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Is someone in the middle of something inside `node` (an open note form)?
export function busy(node) {
  return node.querySelector('form.note') !== null;
}

// Make `list`'s children show `items` in order, reusing the element of an item whose
// signature has not changed (so focus and open forms survive updates).
export function reconcile(list, items, { key, signature, render }) {
  const existing = new Map([...list.children].map((node) => [node.dataset.key, node]));
  const nodes = items.map((item) => {
    const k = String(key(item));
    const sig = signature(item);
    let node = existing.get(k);
    if (!node || (node.dataset.sig !== sig && !busy(node))) {
      const fresh = render(item);
      fresh.dataset.key = k;
      fresh.dataset.sig = sig;
      if (node) node.replaceWith(fresh);
      node = fresh;
    }
    return node;
  });
  let cursor = list.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      list.insertBefore(node, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextElementSibling;
    cursor.remove();
    cursor = next;
  }
}

export const label = (text) => String(text ?? '').replaceAll('_', ' ');

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayAndTime = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

export function clockTime(value) {
  const date = value instanceof Date ? value : new Date(value);
  const today = new Date().toDateString() === date.toDateString();
  return (today ? timeOfDay : dayAndTime).format(date);
}

export function duration(ms) {
  const minutes = Math.round(Math.abs(ms) / 60000);
  if (minutes < 1) return 'under a minute';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    const rest = minutes % 60;
    return rest ? `${hours} h ${rest} min` : `${hours} h`;
  }
  return `${Math.round(hours / 24)} days`;
}

export function ago(value) {
  if (!value) return 'never';
  const ms = Date.now() - new Date(value).getTime();
  return ms >= 0 ? `${duration(ms)} ago` : `in ${duration(ms)}`;
}

// <time> with the local clock time and the exact time as its datetime.
export function timeEl(value, text = clockTime(value)) {
  return h('time', { datetime: new Date(value).toISOString() }, text);
}

const number = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function formatValue(value) {
  if (value === true) return 'on';
  if (value === false) return 'off';
  if (value === null || value === undefined) return 'not available';
  if (typeof value === 'number') return number.format(value);
  return String(value);
}

export function formatNumber(value) {
  return number.format(value);
}

// Say something to screen-reader users without moving focus.
export function announce(text) {
  const region = document.getElementById('announcer');
  region.textContent = '';
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

// The page-wide error line under the header (role=alert).
export function showError(text) {
  const box = document.getElementById('alert');
  box.replaceChildren(
    h('span', {}, text),
    h('button', { type: 'button', class: 'link', onclick: () => clearError() }, 'Dismiss'),
  );
  box.hidden = false;
}

export function clearError() {
  const box = document.getElementById('alert');
  box.hidden = true;
  box.replaceChildren();
}

export function badge(kind, value, text = label(value)) {
  return h('span', { class: `badge ${kind}-${value}` }, text);
}
