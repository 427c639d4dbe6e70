// Actions on a job (acknowledge, start, hold, resume, resolve, step answers with readings,
// comments, photos, sign-off) go through here. Each gets an Idempotency-Key when it is made.
// With signal and nothing of that job waiting, it is sent at once. Without signal, or when
// the service is too busy to take it, it is kept on the device (IndexedDB, photos as Blobs)
// and sent later, in the order it was made; the service applies a key once, so an action
// whose answer was lost is safely sent again.
// An action the service refuses (someone else took the job meanwhile: 409) holds that job's
// remaining actions until the user discards them or tries again.

import { send } from './api.js';
import { t } from './i18n.js';
import { saveRead, within } from './store.js';

export const MAX_ACTIONS = 200; // actions kept on one device
export const MAX_FILE_BYTES = 10 * 1024 * 1024; // a photo kept to send later (the service's default limit)
const RETRY_MS = [2000, 5000, 15000, 30000, 60000];
const AFTER = { acknowledge: 'acknowledged', start: 'in_progress', hold: 'on_hold', resume: 'in_progress', resolve: 'resolved' };

const state = { user: null, entries: [], flushing: null, timer: null, failures: 0 };
const bases = new WeakMap(); // overlaid job -> the job as the service sent it

export function actionId() {
  return crypto.randomUUID ? crypto.randomUUID() : `a-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

function formOf(parts) {
  const form = new FormData();
  for (const [name, value, filename] of parts) {
    if (filename) form.append(name, value, filename);
    else form.append(name, value);
  }
  return form;
}

// POST one action with its key: `json`, or multipart `parts` ([name, value, filename?]).
// Resolves to the answer; rejects with ApiError (status 0 when the service cannot be reached).
export function post(path, { json, parts }, key) {
  const headers = { 'Idempotency-Key': key };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  return send(path, { method: 'POST', headers, body: json !== undefined ? JSON.stringify(json) : formOf(parts) });
}

function changed(job = null) {
  window.dispatchEvent(new CustomEvent('plantroom:outbox', { detail: { job } }));
}

function onOnline() {
  state.failures = 0;
  flush();
}

// Load what `user` left waiting on this device and start sending it.
export async function start(user) {
  state.user = user;
  state.entries = [];
  try {
    const rows = await within('outbox', 'readonly', (store, ok) => ok(store.index('user').getAll(user.username)));
    if (state.user === user) state.entries = rows.sort((a, b) => a.id - b.id);
  } catch (error) {
    console.warn('plantroom: the actions kept on this device cannot be read', error);
  }
  window.addEventListener('online', onOnline);
  changed();
  flush();
}

export function stop() {
  window.removeEventListener('online', onOnline);
  clearTimeout(state.timer);
  Object.assign(state, { user: null, entries: [], failures: 0 });
  changed();
}

export function entries(job = null) {
  return state.entries.filter((e) => job === null || e.job === job);
}

export function counts() {
  const held = state.entries.filter((e) => e.state === 'held').length;
  return { waiting: state.entries.length - held, held };
}

// A refusal that says nothing about the action itself: no signal (status 0), or a service too
// busy to take it now (429, or 503 still after `send` asked again). The action is kept and
// sent later, as one made without signal.
function passing(error) {
  return error.status === 0 || error.status === 429 || error.status === 503;
}

// Do an action on job `job`: { sent: true, answer } when the service took it now,
// { sent: false, busy } when it is kept to send later (`busy`: the service had signal but
// turned it away as too busy). Rejects when the service refused it now.
export async function submit(job, path, body) {
  const key = actionId();
  let busy = false;
  if (!state.entries.some((e) => e.job === job)) {
    try {
      const answer = await post(path, body, key);
      if (answer?.id === job && answer.number) await saveRead(`/api/work-orders/${job}`, answer);
      return { sent: true, answer };
    } catch (error) {
      if (!passing(error)) throw error;
      busy = error.status !== 0;
    }
  }
  await keep({ user: state.user.username, job, path, ...body, key, at: new Date().toISOString(), state: 'waiting' });
  retryLater();
  return { sent: false, busy };
}

// What the person is told of an action `submit` kept (`done`): the words of `key` (kept until
// there is signal), or, when the service was only too busy, that it is sent in a moment.
export function keptNotice(done, key, values = {}) {
  return done.busy ? t('outbox.busy') : t(key, values);
}

async function keep(entry) {
  if (state.entries.length >= MAX_ACTIONS) throw new Error(t('outbox.full', { n: MAX_ACTIONS }));
  const big = (entry.parts ?? []).find(([, value]) => value instanceof Blob && value.size > MAX_FILE_BYTES);
  if (big) throw new Error(t('outbox.too_big', { mb: MAX_FILE_BYTES / 1024 / 1024 }));
  entry.id = await within('outbox', 'readwrite', (store, ok) => ok(store.add(entry)));
  state.entries.push(entry);
  changed(entry.job);
}

async function save(list) {
  await within('outbox', 'readwrite', async (store, ok) => {
    for (const entry of list) await ok(store.put(entry));
  });
}

async function drop(ids) {
  await within('outbox', 'readwrite', async (store, ok) => {
    for (const id of ids) await ok(store.delete(id));
  });
  state.entries = state.entries.filter((e) => !ids.includes(e.id));
}

function retryLater() {
  clearTimeout(state.timer);
  if (!state.entries.some((e) => e.state === 'waiting')) return;
  const wait = RETRY_MS[Math.min(state.failures, RETRY_MS.length - 1)];
  state.failures += 1;
  state.timer = setTimeout(flush, wait);
}

// Send what is waiting, oldest first, skipping jobs whose actions are held.
export function flush() {
  if (!state.flushing) state.flushing = sendAll().finally(() => { state.flushing = null; });
  return state.flushing;
}

async function sendAll() {
  const user = state.user;
  const held = new Set(state.entries.filter((e) => e.state === 'held').map((e) => e.job));
  for (const entry of [...state.entries]) {
    if (state.user !== user || !user) return;
    if (entry.state !== 'waiting' || held.has(entry.job)) continue;
    let answer;
    try {
      answer = await post(entry.path, entry, entry.key);
    } catch (error) {
      if (error.status === 0 || error.status === 401 || error.status === 429 || error.status >= 500) {
        retryLater();
        return;
      }
      held.add(entry.job);
      await hold(entry, error);
      continue;
    }
    await drop([entry.id]);
    if (answer?.id === entry.job && answer.number) await saveRead(`/api/work-orders/${entry.job}`, answer);
    changed(entry.job);
  }
  state.failures = 0;
}

// The service refused `entry`: it and every later action of its job wait for the user.
async function hold(entry, error) {
  const rest = state.entries.filter((e) => e.job === entry.job && e.id >= entry.id);
  for (const e of rest) e.state = 'held';
  entry.error = { status: error.status, code: error.code, message: error.message };
  await save(rest);
  changed(entry.job);
}

export async function retry(job) {
  const list = entries(job);
  for (const e of list) {
    e.state = 'waiting';
    delete e.error;
  }
  await save(list);
  changed(job);
  state.failures = 0;
  await flush();
}

export async function discard(job) {
  await drop(entries(job).map((e) => e.id));
  changed(job);
}

function part(entry, name) {
  return (entry.parts ?? []).find(([n]) => n === name)?.[1];
}

// `wo` as it will be once its waiting actions are sent: answered steps, comments, photos,
// sign-off and status, each marked `pending`.
export function overlay(wo) {
  const base = bases.get(wo) ?? wo;
  const mine = state.entries.filter((e) => e.job === base.id && e.state === 'waiting');
  if (!mine.length) return base;
  const out = structuredClone(base);
  const who = state.user;
  for (const e of mine) {
    const [what, index] = e.path.split('/').slice(4);
    if (what === 'steps' && out.checklist?.[Number(index)]) {
      const step = out.checklist[Number(index)];
      out.checklist[Number(index)] = { ...step, done: true, result: e.json.result, value: e.json.value ?? null, note: e.json.note ?? null, by: who.username, pending: true };
    } else if (what === 'comments') {
      out.comments = [...(out.comments ?? []), { author: who.username, at: e.at, text: e.json.text, pending: true }];
    } else if (what === 'photos') {
      out.photos = [...(out.photos ?? []), { kind: 'photo', caption: part(e, 'caption') ?? null, added_by: who.username, blob: part(e, 'file'), pending: true }];
    } else if (what === 'sign-off') {
      Object.assign(out, { signed_at: e.at, signed_by: part(e, 'signer') });
      out.photos = [...(out.photos ?? []), { kind: 'signature', blob: part(e, 'signature'), pending: true }];
    } else if (AFTER[what]) {
      out.status = AFTER[what];
      if (what === 'acknowledge' && !out.assignee) out.assignee = { username: who.username, display_name: who.display_name };
    }
  }
  out.pending = mine.length;
  bases.set(out, base);
  return out;
}
