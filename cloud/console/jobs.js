// Jobs: "My jobs" and "Unassigned in my buildings", one job's page, and the actions on a job.

import { api } from './api.js';
import {
  announce, badge, clockTime, duration, h, label, reconcile, showError, timeEl,
} from './dom.js';

const PRIORITY_RANK = { emergency: 0, urgent: 1, normal: 2, low: 3 };
const WORKING = ['acknowledged', 'in_progress', 'on_hold'];
const FIELD_ROLES = new Set(['technician', 'supervisor', 'admin']);

const ACTIONS = {
  acknowledge: { text: 'Acknowledge', done: 'acknowledged; it is now in My jobs' },
  start: { text: 'Start work', done: 'started' },
  hold: {
    text: 'Put on hold…',
    done: 'put on hold',
    note: { label: 'Why is it on hold?', submit: 'Put on hold', hint: 'A technician may put a job on hold once.' },
  },
  resume: { text: 'Resume', done: 'resumed' },
  resolve: {
    text: 'Resolve…',
    done: 'resolved',
    note: { label: 'What was done?', submit: 'Resolve job', hint: 'A fault job resolves once the fault has cleared.' },
  },
};

// What is due next: the response while a job is open, the fix after that.
export function dueOf(wo) {
  if (wo.status === 'open') return { what: 'Respond', at: wo.respond_due_at };
  if (WORKING.includes(wo.status)) return { what: 'Resolve', at: wo.resolve_due_at };
  return { what: null, at: null };
}

// Priority first, then the least time left, then the oldest.
export function compareJobs(a, b) {
  const rank = (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9);
  if (rank) return rank;
  const da = dueOf(a).at ? Date.parse(dueOf(a).at) : Infinity;
  const db = dueOf(b).at ? Date.parse(dueOf(b).at) : Infinity;
  if (da !== db) return da < db ? -1 : 1;
  return Date.parse(a.created_at) - Date.parse(b.created_at) || a.id - b.id;
}

export function actionsFor(wo, user) {
  if (!FIELD_ROLES.has(user.role)) return [];
  const mayWork = wo.assignee?.username === user.username || user.role !== 'technician';
  switch (wo.status) {
    case 'open':
      return ['acknowledge'];
    case 'acknowledged':
      return mayWork ? ['start', 'hold', 'resolve'] : [];
    case 'in_progress':
      return mayWork ? ['hold', 'resolve'] : [];
    case 'on_hold':
      return mayWork ? ['resume'] : [];
    default:
      return [];
  }
}

// The SLA line: "Respond by 14:05 · 8 min left", or overdue.
function dueLine(wo) {
  const due = dueOf(wo);
  if (!due.at) return null;
  const el = h('p', { class: 'due', dataset: { due: due.at, what: due.what } });
  paintDue(el);
  return el;
}

export function paintDue(el) {
  const at = el.dataset.due;
  const left = Date.parse(at) - Date.now();
  el.classList.toggle('overdue', left < 0);
  el.replaceChildren(
    `${el.dataset.what} by `,
    timeEl(at),
    ' · ',
    h('strong', {}, left < 0 ? `overdue by ${duration(left)}` : `${duration(left)} left`),
  );
}

// Keep every SLA line on the page current.
export function tickDue(root) {
  for (const el of root.querySelectorAll('.due[data-due]')) paintDue(el);
}

function faultChip(wo, alarms) {
  if (wo.alarm_id === null || wo.alarm_id === undefined || !alarms.has(wo.alarm_id)) return null;
  const state = alarms.get(wo.alarm_id);
  return h('span', { class: `chip fault-${state}` }, state === 'active' ? 'Fault active' : 'Fault cleared');
}

// One job as a card; `ctx.act(wo, action, note)` does an action.
export function jobCard(wo, ctx, { alarms = new Map(), headingLevel = 'h3', link = true } = {}) {
  const titleId = `job-${wo.id}-title`;
  const title = link ? h('a', { href: `#/jobs/${wo.id}` }, wo.title) : wo.title;
  return h(
    'li',
    { class: `card priority-${wo.priority}` },
    h(
      'article',
      { 'aria-labelledby': titleId },
      h(
        'div',
        { class: 'card-head' },
        badge('priority', wo.priority),
        h('span', { class: 'number' }, wo.number),
        badge('status', wo.status),
        faultChip(wo, alarms),
      ),
      h(headingLevel, { id: titleId, class: 'card-title' }, title),
      h(
        'p',
        { class: 'meta' },
        wo.equipment_id ? h('a', { href: `#/equipment/${encodeURIComponent(wo.equipment_id)}` }, wo.equipment_id) : null,
        wo.equipment_id && wo.building ? ' · ' : null,
        wo.building ? `building ${wo.building}` : null,
        wo.assignee ? ` · ${wo.assignee.display_name ?? wo.assignee.username}` : null,
      ),
      dueLine(wo),
      actionBar(wo, ctx),
    ),
  );
}

function actionBar(wo, ctx) {
  const actions = actionsFor(wo, ctx.user);
  if (!actions.length) return null;
  const bar = h('div', { class: 'actions' });
  for (const action of actions) {
    const spec = ACTIONS[action];
    const button = h(
      'button',
      { type: 'button', class: action === actions[0] ? 'primary' : 'secondary', dataset: { action } },
      spec.text,
    );
    button.setAttribute('aria-describedby', `job-${wo.id}-title`);
    button.addEventListener('click', () => {
      if (spec.note) openNote(bar, button, wo, action, ctx);
      else run(bar, wo, action, null, ctx);
    });
    bar.append(button);
  }
  return bar;
}

function openNote(bar, opener, wo, action, ctx) {
  bar.parentElement.querySelector('form.note')?.remove();
  const spec = ACTIONS[action].note;
  const id = `job-${wo.id}-${action}-note`;
  const close = () => {
    form.remove();
    opener.focus();
    ctx.settled?.();
  };
  const textarea = h('textarea', {
    id,
    name: 'note',
    rows: 3,
    maxlength: 2000,
    required: true,
    'aria-describedby': `${id}-hint`,
  });
  const form = h(
    'form',
    { class: 'note', dataset: { action } },
    h('label', { for: id }, spec.label),
    h('p', { id: `${id}-hint`, class: 'hint' }, spec.hint),
    textarea,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, spec.submit),
      h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel'),
    ),
  );
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const note = textarea.value.trim();
    if (!note) {
      textarea.setCustomValidity('Write a few words first.');
      textarea.reportValidity();
      return;
    }
    textarea.setCustomValidity('');
    const ok = await run(form, wo, action, note, ctx);
    if (ok) form.remove();
  });
  bar.after(form);
  textarea.focus();
}

// Do the action; on failure say why next to the controls, and return false.
async function run(where, wo, action, note, ctx) {
  const buttons = where.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  where.parentElement.querySelector('.card-error')?.remove();
  try {
    const body = { channel: 'console' };
    if (note) body.note = note;
    const updated = await api(`/api/work-orders/${wo.id}/${action}`, { method: 'POST', body });
    announce(`${updated.number} ${ACTIONS[action].done}.`);
    ctx.changed(updated, { focus: true });
    return true;
  } catch (error) {
    where.after(h('p', { class: 'card-error', role: 'alert' }, error.message));
    return false;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function newer(incoming, current) {
  return !current || Date.parse(incoming.updated_at) >= Date.parse(current.updated_at);
}

function jobSignature(wo, alarms) {
  return [wo.status, wo.updated_at, wo.assignee?.username ?? '', alarms.get(wo.alarm_id) ?? ''].join('|');
}

export class JobsView {
  constructor(ctx) {
    this.ctx = ctx;
    this.title = 'Jobs';
    this.jobs = new Map();
    this.alarms = new Map();
    this.buildings = [];
    this.cardCtx = {
      user: ctx.user,
      changed: (wo, options) => this.changed(wo, options),
      settled: () => this.render(),
    };
  }

  storageKey() {
    return `plantroom.buildings.${this.ctx.user.username}`;
  }

  // The buildings picked here, else those of the user's teams, else every building.
  chosenBuildings() {
    const stored = localStorage.getItem(this.storageKey());
    if (stored !== null) {
      try {
        return new Set(JSON.parse(stored));
      } catch {
        localStorage.removeItem(this.storageKey());
      }
    }
    return new Set(this.teamBuildings ?? this.buildings);
  }

  // Buildings of the teams the user belongs to; null when unknown or when a team covers all.
  async loadTeamBuildings() {
    try {
      const teams = await api('/api/teams');
      const mine = teams.items.filter((t) => t.members?.some((m) => m.username === this.ctx.user.username));
      if (!mine.length || mine.some((t) => !t.building)) return null;
      return [...new Set(mine.map((t) => t.building))];
    } catch {
      return null;
    }
  }

  mount(main) {
    this.mineList = h('ul', { class: 'cards', 'aria-labelledby': 'mine-h' });
    this.openList = h('ul', { class: 'cards', 'aria-labelledby': 'open-h' });
    this.mineCount = h('span', { class: 'count' });
    this.openCount = h('span', { class: 'count' });
    this.mineEmpty = h('p', { class: 'empty', hidden: true }, 'No jobs of yours are open.');
    this.openEmpty = h('p', { class: 'empty', hidden: true }, 'No unassigned jobs in your buildings.');
    this.picker = h('details', { class: 'picker' });
    main.replaceChildren(
      h('h1', { tabindex: -1 }, 'Jobs'),
      h(
        'section',
        { 'aria-labelledby': 'mine-h' },
        h('h2', { id: 'mine-h' }, 'My jobs ', this.mineCount),
        this.mineEmpty,
        this.mineList,
      ),
      h(
        'section',
        { 'aria-labelledby': 'open-h' },
        h('h2', { id: 'open-h' }, 'Unassigned in my buildings ', this.openCount),
        this.picker,
        this.openEmpty,
        this.openList,
      ),
    );
    this.tick = setInterval(() => tickDue(main), 30000);
  }

  unmount() {
    clearInterval(this.tick);
  }

  async refresh() {
    const me = encodeURIComponent(this.ctx.user.username);
    const working = WORKING.map((s) => `status=${s}`).join('&');
    const [mine, open, active, equipment, teamBuildings] = await Promise.all([
      api(`/api/work-orders?assignee=${me}&${working}&limit=500`),
      api('/api/work-orders?status=open&limit=500'),
      api('/api/alarms?state=active&limit=500'),
      api('/api/equipment'),
      this.teamBuildings === undefined ? this.loadTeamBuildings() : this.teamBuildings,
    ]);
    this.teamBuildings = teamBuildings;
    this.jobs = new Map([...mine.items, ...open.items].map((wo) => [wo.id, wo]));
    this.alarms = new Map(active.items.map((a) => [a.id, a.state]));
    this.buildings = [...new Set(equipment.items.map((e) => e.building))].sort();
    this.renderPicker();
    this.render();
  }

  renderPicker() {
    const chosen = this.chosenBuildings();
    const boxes = this.buildings.map((b) => {
      const id = `building-${b}`;
      return h(
        'li',
        {},
        h('input', {
          type: 'checkbox',
          id,
          value: b,
          checked: chosen.has(b),
          onchange: () => this.pickBuildings(),
        }),
        h('label', { for: id }, b),
      );
    });
    const summary = h('summary', {}, `My buildings: ${this.summaryText(chosen)}`);
    this.picker.replaceChildren(
      summary,
      h('fieldset', {}, h('legend', {}, 'Show unassigned jobs in'), h('ul', { class: 'checks' }, boxes)),
    );
  }

  summaryText(chosen) {
    const picked = this.buildings.filter((b) => chosen.has(b));
    if (picked.length === this.buildings.length) return 'all';
    return picked.length ? picked.join(', ') : 'none';
  }

  pickBuildings() {
    const picked = [...this.picker.querySelectorAll('input:checked')].map((i) => i.value);
    localStorage.setItem(this.storageKey(), JSON.stringify(picked));
    this.picker.querySelector('summary').textContent = `My buildings: ${this.summaryText(new Set(picked))}`;
    this.render();
  }

  workOrder({ work_order: wo }) {
    if (newer(wo, this.jobs.get(wo.id))) this.jobs.set(wo.id, wo);
    this.render();
  }

  alarm({ alarm }) {
    this.alarms.set(alarm.id, alarm.state);
    this.render();
  }

  changed(wo, { focus = false } = {}) {
    this.workOrder({ work_order: wo });
    if (focus) {
      const card = this.ctx.main.querySelector(`li[data-key="${wo.id}"]`);
      (card?.querySelector('.actions button') ?? card?.querySelector('.card-title a'))?.focus();
    }
  }

  render() {
    const me = this.ctx.user.username;
    const chosen = this.chosenBuildings();
    const all = [...this.jobs.values()];
    const mine = all.filter((wo) => wo.assignee?.username === me && WORKING.includes(wo.status)).sort(compareJobs);
    const open = all
      .filter((wo) => wo.status === 'open' && !wo.assignee && (wo.building === null || chosen.has(wo.building)))
      .sort(compareJobs);
    const options = {
      key: (wo) => wo.id,
      signature: (wo) => jobSignature(wo, this.alarms),
      render: (wo) => jobCard(wo, this.cardCtx, { alarms: this.alarms }),
    };
    reconcile(this.mineList, mine, options);
    reconcile(this.openList, open, options);
    this.mineCount.textContent = `(${mine.length})`;
    this.openCount.textContent = `(${open.length})`;
    this.mineEmpty.hidden = mine.length > 0;
    this.openEmpty.hidden = open.length > 0;
  }
}

export class JobView {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = Number(id);
    this.title = 'Job';
    this.cardCtx = {
      user: ctx.user,
      changed: (wo) => this.show(wo, { focus: true }),
      settled: () => {},
    };
  }

  mount(main) {
    this.heading = h('h1', { tabindex: -1 }, 'Job');
    this.body = h('div', { class: 'job' }, h('p', {}, 'Loading…'));
    main.replaceChildren(h('p', { class: 'back' }, h('a', { href: '#/jobs' }, '← All jobs')), this.heading, this.body);
    this.tick = setInterval(() => tickDue(main), 30000);
  }

  unmount() {
    clearInterval(this.tick);
  }

  async refresh() {
    this.show(await api(`/api/work-orders/${this.id}`));
  }

  show(wo, { focus = false } = {}) {
    if (this.body.querySelector('form.note')) return; // do not pull the form from under someone
    this.wo = wo;
    this.heading.textContent = wo.number;
    document.title = `${wo.number} · Plantroom`;
    const alarms = wo.alarm ? new Map([[wo.alarm.id, wo.alarm.state]]) : new Map();
    const card = jobCard(wo, this.cardCtx, { alarms, headingLevel: 'h2', link: false });
    this.body.replaceChildren(
      h('ul', { class: 'cards' }, card),
      wo.description ? h('section', { 'aria-labelledby': 'desc-h' }, h('h2', { id: 'desc-h' }, 'Description'), h('p', { class: 'pre' }, wo.description)) : null,
      wo.alarm ? alarmSection(wo.alarm) : null,
      h(
        'section',
        { 'aria-labelledby': 'history-h' },
        h('h2', { id: 'history-h' }, 'History'),
        h('ol', { class: 'timeline' }, wo.events.map(eventItem)),
      ),
    );
    if (focus) (card.querySelector('.actions button') ?? this.heading).focus();
  }

  workOrder({ work_order: wo }) {
    if (wo.id === this.id) this.refresh().catch((e) => showError(e.message));
  }

  alarm({ alarm }) {
    if (this.wo?.alarm_id === alarm.id) this.refresh().catch((e) => showError(e.message));
  }
}

function alarmSection(alarm) {
  return h(
    'section',
    { 'aria-labelledby': 'alarm-h' },
    h('h2', { id: 'alarm-h' }, 'Fault'),
    h(
      'p',
      {},
      badge('severity', alarm.severity),
      ' ',
      badge('alarm', alarm.state),
      ' ',
      alarm.message,
    ),
    h(
      'p',
      { class: 'meta' },
      'Raised ',
      timeEl(alarm.raised_at),
      alarm.occurrences > 1 ? ` · ${alarm.occurrences} times` : null,
      alarm.cleared_at ? [' · cleared ', timeEl(alarm.cleared_at)] : null,
    ),
  );
}

function eventItem(event) {
  const change = event.to_status && event.from_status ? ` (${label(event.from_status)} → ${label(event.to_status)})` : '';
  return h(
    'li',
    {},
    h('p', {}, h('strong', {}, label(event.action)), change, ' by ', event.actor, ' · ', timeEl(event.at, clockTime(event.at))),
    event.note ? h('p', { class: 'pre note-text' }, event.note) : null,
  );
}
