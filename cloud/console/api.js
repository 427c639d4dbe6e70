// Talking to the cloud service: the token, JSON requests, and the live event stream.

import { RETRIES, waitToAskAgain } from './busy.js';
import { refusal, t } from './i18n.js';
import { withSite } from './sites.js';
import { saveRead, savedRead } from './store.js';

const TOKEN_KEY = 'plantroom.token';

export const auth = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Whether the last request reached the service: 'plantroom:network' events with
// `detail.online` tell the header when that changes.
export const network = { online: navigator.onLine };

export function reached(online) {
  // an answer that set out before the device lost its signal does not mean it is back: while
  // the browser itself says it is offline, only its 'online' event brings the console back
  if (online && navigator.onLine === false) return;
  if (network.online === online) return;
  network.online = online;
  window.dispatchEvent(new CustomEvent('plantroom:network', { detail: { online } }));
}
window.addEventListener('online', () => reached(true));
window.addEventListener('offline', () => reached(false));

// A request to the API. Resolves to the decoded JSON; rejects with ApiError carrying the
// service's own error code and message. A 401 also tells the app the session has ended.
// A signed-in read is kept on the device and, without signal, answered from there.
export async function api(path, { method = 'GET', body, token = auth.token } = {}) {
  const keep = method === 'GET' && Boolean(token);
  if (method === 'GET') path = withSite(path); // a list, of the site chosen in the header
  try {
    const data = await request(path, { method, body, token });
    if (keep) saveRead(path, data);
    return data;
  } catch (error) {
    if (keep && error.status === 0) {
      const saved = await savedRead(path);
      if (saved !== undefined) return saved;
    }
    throw error;
  }
}

function request(path, { method, body, token }) {
  if (body === undefined) return send(path, { method, token });
  const headers = { 'Content-Type': 'application/json' };
  return send(path, { method, headers, body: JSON.stringify(body), token });
}

// One request as it is sent: `body` as fetch takes it, `headers` besides Accept and the
// token's. Resolves to the decoded JSON; rejects with ApiError carrying the service's own
// error code and message (status 0 when the service cannot be reached). A 401 to a signed-in
// request also tells the app the session has ended.
//
// A request the service turned away because it was full (503 with `Retry-After`) is asked
// again as busy.js says: a page sends a dozen reads at once, and a busy service answers some
// of them 503 at once rather than all of them late. A write is asked again only when the 503
// is the service's own `overloaded`, given before anything is done for it (a job's action also
// carries its Idempotency-Key, applied once however often it is sent). A job's action still
// turned away is kept by the outbox and sent later.
export async function send(path, options) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await sendOnce(path, options);
    } catch (error) {
      const unworked = options.method === 'GET' || error.code === 'overloaded';
      const again = unworked && error.retryAfter !== undefined;
      if (!again || attempt >= RETRIES) throw error;
      await waitToAskAgain(error.retryAfter);
    }
  }
}

async function sendOnce(path, { method, headers = {}, body, token = auth.token }) {
  const all = { Accept: 'application/json', ...headers };
  if (token) all.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method, headers: all, body, cache: 'no-store' });
  } catch {
    reached(false);
    throw new ApiError(0, 'network', t('outbox.unreachable'));
  }
  reached(true);
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error ?? {};
    const failure = new ApiError(
      response.status,
      error.code ?? 'http_error',
      refusal(error.code, error.message ?? t('api.http', { status: response.status })),
    );
    if (response.status === 401 && token) {
      window.dispatchEvent(new CustomEvent('plantroom:unauthorized', { detail: failure }));
    }
    const wait = Number(response.headers.get('Retry-After'));
    if (response.status === 503 && wait > 0) failure.retryAfter = wait;
    throw failure;
  }
  return data;
}

export async function signIn(username, password) {
  const answer = await api('/api/auth/token', {
    method: 'POST',
    body: { username, password },
    token: null,
  });
  return answer.token;
}

// The server-sent event stream. The browser reconnects by itself after the server ends a
// stream (and the server replays what was missed); if the browser gives up, this starts a
// fresh stream after a pause. `onState` gets 'live', 'reconnecting' or 'offline'.
export class LiveEvents {
  constructor({ onReady, onWorkOrder, onAlarm, onState }) {
    this.handlers = { onReady, onWorkOrder, onAlarm, onState };
    this.source = null;
    this.timer = null;
    this.slow = null;
    this.closed = false;
    this.open();
  }

  open() {
    if (this.closed) return;
    const source = new EventSource(`/api/events?token=${encodeURIComponent(auth.token ?? '')}`);
    this.source = source;
    source.addEventListener('ready', (event) => {
      clearTimeout(this.slow);
      this.slow = null;
      this.handlers.onState('live');
      this.handlers.onReady(JSON.parse(event.data));
    });
    source.addEventListener('work_order', (event) => this.handlers.onWorkOrder(JSON.parse(event.data)));
    source.addEventListener('alarm', (event) => this.handlers.onAlarm(JSON.parse(event.data)));
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(this.slow);
        this.slow = null;
        this.handlers.onState('offline');
        this.retry();
      } else if (this.slow === null) {
        // a stream ends every half minute and comes straight back: say so only if it does not
        this.slow = setTimeout(() => this.handlers.onState('reconnecting'), 2500);
      }
    });
  }

  async retry() {
    clearTimeout(this.timer);
    try {
      await api('/api/me'); // a 401 here ends the session
    } catch (error) {
      if (error.status === 401) return;
    }
    this.timer = setTimeout(() => this.open(), 3000);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.slow);
    this.source?.close();
  }
}
