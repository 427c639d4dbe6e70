// Building the page: elements, lists that update in place, times, and messages to people.

import { clockTime, t, term, withUnit } from './i18n.js';

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

// A person as the page names them: their name, else their username, else nobody.
export const personName = (person) => person?.display_name || person?.username || t('board.nobody');

export { clockTime, formatNumber } from './i18n.js';

export function duration(ms) {
  const minutes = Math.round(Math.abs(ms) / 60000);
  if (minutes < 1) return t('time.under_minute');
  if (minutes < 60) return t('time.minutes', { n: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    const rest = minutes % 60;
    return rest ? t('time.hours_minutes', { h: hours, m: rest }) : t('time.hours', { n: hours });
  }
  return t('time.days', { n: Math.round(hours / 24) });
}

export function ago(value) {
  if (!value) return t('time.never');
  const ms = Date.now() - new Date(value).getTime();
  return t(ms >= 0 ? 'time.ago' : 'time.in', { duration: duration(ms) });
}

// <time> with the site's clock time and the exact time as its datetime.
export function timeEl(value, text = clockTime(value)) {
  return h('time', { datetime: new Date(value).toISOString() }, text);
}

// A latest value: a number with its unit, on/off and a canonical point's states in words,
// other text as it is.
export function formatValue(value, unit) {
  if (value === true) return t('value.true');
  if (value === false) return t('value.false');
  if (value === null || value === undefined) return t('value.none');
  if (typeof value === 'number') return withUnit(value, unit);
  return term('state', value);
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
    h('button', { type: 'button', class: 'link', onclick: () => clearError() }, t('common.dismiss')),
  );
  box.hidden = false;
}

export function clearError() {
  const box = document.getElementById('alert');
  box.hidden = true;
  box.replaceChildren();
}

// The catalog family of each badge's values (`family.value`), where not the badge's kind.
const FAMILY = { equipment: 'equipment_status', alarm: 'alarm_state', message: 'message_status' };

// A status, priority, severity... as a coloured badge, in words.
export function badge(kind, value, text = term(FAMILY[kind] ?? kind, value)) {
  return h('span', { class: `badge ${kind}-${value}` }, text);
}
