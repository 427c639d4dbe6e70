// The console: sign-in, the page frame, navigation between views, and live updates.

import { AlarmsView } from './alarms.js';
import { api, auth, LiveEvents, network, signIn } from './api.js';
import { BoardView, OFFICE } from './board.js';
import { announce, clearError, h, showError } from './dom.js';
import { EquipmentListView, EquipmentView } from './equipment.js';
import { fromProfile, lang, otherLanguage, profileCode, remember, t, term, useTimeZone } from './i18n.js';
import { JobView } from './job_page.js';
import { JobsView } from './jobs.js';
import * as outbox from './outbox.js';
import { showOutbox } from './outbox_view.js';
import { forgetReads } from './store.js';
import { hideSwitcher, showSwitcher, shown, siteFilter } from './sites.js';
import { SystemAlarmBanner } from './system_alarms.js';
import { OnCallView } from './oncall.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const liveBox = document.getElementById('live');

const session = { user: null, view: null, live: null, streaming: false, firstView: true };
const REOPENED_KEY = 'plantroom.lang.reopened'; // the language the console last opened again in

// The header: the stream's state, or "Offline" while the service cannot be reached.
function setLive(state) {
  session.liveState = state;
  if (state === 'live') outbox.flush();
  paintLive();
}

function paintLive() {
  const state = network.online ? session.liveState ?? 'reconnecting' : 'offline';
  liveBox.dataset.state = state;
  liveBox.textContent = t(`live.${state}`);
}

function onNetwork() {
  paintLive();
  // without signal the stream cannot say when to load: show what the device keeps
  if (!network.online && session.user && !session.streaming) {
    session.streaming = true;
    refreshView(session.view);
  }
}

function route() {
  // #/equipment/pump-1?site=north: the path, then what the page is of (the site)
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').map(decodeURIComponent);
  const ctx = { user: session.user, main };
  switch (parts[0]) {
    case 'alarms':
      return { view: new AlarmsView(ctx), section: 'alarms' };
    case 'equipment':
      return parts[1]
        ? { view: new EquipmentView(ctx, parts[1], new URLSearchParams(query).get('site')), section: 'equipment' }
        : { view: new EquipmentListView(ctx), section: 'equipment' };
    case 'oncall':
      return { view: new OnCallView(ctx), section: 'oncall' };
    case 'board':
      return { view: new BoardView(ctx), section: 'board' };
    case 'jobs':
      if (parts[1]) return { view: new JobView(ctx, parts[1]), section: 'jobs' };
    // fall through: the job list
    default:
      return { view: new JobsView(ctx), section: 'jobs' };
  }
}

function refreshView(view) {
  view.refresh().catch((error) => {
    if (error.status !== 401) showError(error.message);
  });
}

function show() {
  session.view?.unmount?.();
  clearError();
  const { view, section } = route();
  session.view = view;
  view.mount(main);
  document.title = t('frame.title', { page: view.title });
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!session.firstView) main.querySelector('h1')?.focus();
  session.firstView = false;
  // the first load waits for the live stream, so that nothing changes unseen in between
  if (session.streaming) refreshView(view);
}

function onReady(ready) {
  const first = !session.streaming;
  session.streaming = true;
  if (first || !ready.replayed) refreshView(session.view);
}

function onWorkOrder(data) {
  if (!shown(data.work_order?.site)) return; // another site than the one chosen
  const created = data.events?.some((e) => e.action === 'created');
  if (created) {
    const wo = data.work_order;
    announce(t('jobs.new', { number: wo.number, priority: term('priority', wo.priority), title: wo.title }));
  }
  session.view?.workOrder?.(data);
}

function onAlarm(data) {
  if (!shown(data.alarm?.site)) return;
  session.view?.alarm?.(data);
}

function enter(user) {
  session.user = user;
  session.firstView = true;
  who.hidden = false;
  nav.hidden = false;
  const board = document.getElementById('nav-board');
  board.hidden = !OFFICE.has(user.role); // the supervisor board: supervisors and admins only
  // a contractor sees their own team's jobs only: no alarms, equipment or rotas
  for (const section of ['alarms', 'equipment', 'oncall']) {
    nav.querySelector(`[data-section="${section}"]`).parentElement.hidden = user.role === 'contractor';
  }
  liveBox.hidden = false;
  document.getElementById('who-name').textContent = user.display_name ?? user.username;
  setLive('reconnecting');
  session.hideOutbox = showOutbox(document.getElementById('outbox'));
  outbox.start(user);
  session.live = new LiveEvents({ onReady, onWorkOrder, onAlarm, onState: setLive });
  session.banner = new SystemAlarmBanner(document.getElementById('system-alarms'), user);
  if (user.role !== 'contractor') session.banner.start(); // the service's alarms are in-house
  // without a stream (a proxy that buffers it), load anyway after a moment
  session.fallback = setTimeout(() => {
    if (!session.streaming) {
      session.streaming = true;
      refreshView(session.view);
    }
  }, 4000);
  window.addEventListener('hashchange', show);
  show();
  onNetwork();
  // the site switcher, when the person sees more than one site (a contractor: their jobs)
  if (user.role !== 'contractor') {
    api('/api/sites')
      .then((sites) => {
        showSwitcher(document.getElementById('site'), sites, show);
        // shown before the sites were known: again, saying which site each thing is at
        if (sites.length > 1 && session.streaming) {
          session.firstView = true; // where the focus is stays
          show();
        }
      })
      .catch(() => {});
  }
}

function leave(message) {
  session.hideOutbox?.();
  outbox.stop(); // what is waiting stays on the device, and is sent when this user is back
  document.getElementById('outbox').hidden = true;
  forgetReads();
  session.live?.close();
  session.banner?.stop();
  clearTimeout(session.fallback);
  window.removeEventListener('hashchange', show);
  hideSwitcher(document.getElementById('site'));
  siteFilter.set(null);
  session.view?.unmount?.();
  Object.assign(session, { user: null, view: null, live: null, banner: null, streaming: false });
  auth.clear();
  who.hidden = true;
  nav.hidden = true;
  liveBox.hidden = true;
  signInPage(message);
}

// The frame's own words (index.html: data-i18n, data-i18n-label) and the language switch.
function translateFrame() {
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  // "Language: 中文", the name in its own language (and so read by a screen reader)
  const button = document.getElementById('language');
  button.replaceChildren(
    h('span', { class: 'visually-hidden' }, t('language.switch')),
    h('span', { lang: otherLanguage }, t(`language.name.${otherLanguage}`)),
  );
  button.addEventListener('click', switchLanguage);
  button.hidden = false;
}

// Open the console again in `language`, kept on this device (at most once per sign-in: a
// device that cannot keep it stays as it is rather than loading again and again).
function reopenIn(language) {
  const tried = sessionStorage.getItem(REOPENED_KEY);
  if (tried === language || !remember(language)) return false;
  sessionStorage.setItem(REOPENED_KEY, language);
  location.reload();
  return true;
}

// The switch: saved in the profile (so that messages follow) when signed in, then the
// console opens again in the other language.
async function switchLanguage() {
  const button = document.getElementById('language');
  if (session.user) {
    button.disabled = true;
    try {
      await api('/api/users/me', { method: 'PATCH', body: { language: profileCode(otherLanguage) } });
    } catch (error) {
      button.disabled = false;
      showError(error.message);
      return;
    }
  }
  sessionStorage.removeItem(REOPENED_KEY);
  if (!reopenIn(otherLanguage)) showError(t('language.not_kept'));
}

// Signed in: the profile's language when the person chose one (the console opens again in it
// if this device showed another); else this device's, recorded in the profile for messages.
function followProfile(user) {
  if (user.language_chosen) {
    const wanted = fromProfile(user.language);
    return wanted !== lang && reopenIn(wanted);
  }
  if (user.language !== profileCode(lang)) {
    api('/api/users/me', { method: 'PATCH', body: { language: profileCode(lang), chosen: false } }).catch(() => {});
  }
  return false;
}

function field(id, text, attrs) {
  return h('div', { class: 'field' }, h('label', { for: id }, text), h('input', { id, name: id, ...attrs }));
}

// A hint with `code` in backquotes: the backquoted parts as <code>.
function withCode(text) {
  return text.split('`').map((part, i) => (i % 2 ? h('code', {}, part) : part));
}

function signInPage(message) {
  document.title = t('frame.title', { page: t('signin.title') });
  const error = h('p', { id: 'signin-error', class: 'form-error', role: 'alert' }, message ?? '');
  const fail = (text) => {
    error.textContent = text;
  };
  const passwordForm = h(
    'form',
    { 'aria-labelledby': 'password-h' },
    h('h2', { id: 'password-h' }, t('signin.with_password')),
    field('username', t('signin.username'), { autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }),
    field('password', t('signin.password'), { type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit', class: 'primary' }, t('signin.submit')),
  );
  passwordForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    fail('');
    try {
      const token = await signIn(passwordForm.username.value.trim(), passwordForm.password.value);
      await start(token);
    } catch (e) {
      fail(e.message);
    }
  });
  const tokenForm = h(
    'form',
    { 'aria-labelledby': 'token-h' },
    h('h2', { id: 'token-h' }, t('signin.with_token')),
    h('p', { class: 'hint', id: 'token-hint' }, ...withCode(t('signin.token_hint'))),
    field('token', t('signin.token'), { type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'token-hint', spellcheck: 'false' }),
    h('button', { type: 'submit', class: 'primary' }, t('signin.submit_token')),
  );
  tokenForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    fail('');
    try {
      await start(tokenForm.token.value.trim());
    } catch (e) {
      fail(e.status === 401 ? t('signin.bad_token') : e.message);
    }
  });
  main.replaceChildren(
    h('h1', { tabindex: -1 }, t('signin.title')),
    h('p', {}, t('signin.intro')),
    error,
    passwordForm,
    tokenForm,
  );
  if (message) main.querySelector('h1').focus();
}

// Check the token, keep it for this browser tab, and open the console (in the profile's
// language and the site's time zone).
async function start(token) {
  const user = await api('/api/me/profile', { token });
  auth.set(token);
  useTimeZone(user.time_zone);
  if (followProfile(user)) return; // opening again in the profile's language
  sessionStorage.removeItem(REOPENED_KEY);
  enter(user);
}

async function boot() {
  // the address's #fragment is the router's: the skip link moves focus instead
  document.querySelector('.skip').addEventListener('click', (event) => {
    event.preventDefault();
    (main.querySelector('h1') ?? main).focus();
  });
  translateFrame();
  document.getElementById('sign-out').addEventListener('click', () => leave(t('signin.signed_out')));
  window.addEventListener('plantroom:network', onNetwork);
  navigator.serviceWorker?.register('/sw.js').catch((error) => console.warn('plantroom: no offline copy of the console', error));
  window.addEventListener('plantroom:unauthorized', () => {
    if (session.user) leave(t('signin.ended'));
  });
  const token = auth.token;
  if (!token) {
    signInPage();
    return;
  }
  try {
    await start(token);
  } catch (e) {
    auth.clear();
    signInPage(e.status === 401 ? t('signin.ended') : e.message);
  }
}

boot();
