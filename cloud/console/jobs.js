// Jobs: "My jobs" and "Unassigned in my buildings", and the buildings picked for the second.

import { api } from './api.js';
import { h, reconcile } from './dom.js';
import { compareJobs, jobCard, tickDue, WORKING } from './job_card.js';
import { t } from './i18n.js';
import { loadWindows, maintenanceSignature } from './maintenance.js';
import { overlay } from './outbox.js';

const KEEP_JOBS = 50; // of my jobs, the details kept on the device for working without signal

// Read each job's page once, so that it is on the device when the signal goes.
async function keepForOffline(jobs) {
  for (const wo of jobs.slice(0, KEEP_JOBS)) {
    await api(`/api/work-orders/${wo.id}`).catch(() => null);
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
    this.title = t('nav.jobs');
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
    this.mineEmpty = h('p', { class: 'empty', hidden: true }, t('jobs.mine_none'));
    this.openEmpty = h('p', { class: 'empty', hidden: true }, t('jobs.open_none'));
    this.picker = h('details', { class: 'picker' });
    main.replaceChildren(
      h('h1', { tabindex: -1 }, t('nav.jobs')),
      h(
        'section',
        { 'aria-labelledby': 'mine-h' },
        h('h2', { id: 'mine-h' }, t('jobs.mine'), ' ', this.mineCount),
        this.mineEmpty,
        this.mineList,
      ),
      h(
        'section',
        { 'aria-labelledby': 'open-h' },
        h('h2', { id: 'open-h' }, t('jobs.open'), ' ', this.openCount),
        this.picker,
        this.openEmpty,
        this.openList,
      ),
    );
    this.tick = setInterval(() => tickDue(main), 30000);
    this.onOutbox = () => this.render();
    window.addEventListener('plantroom:outbox', this.onOutbox);
  }

  unmount() {
    clearInterval(this.tick);
    window.removeEventListener('plantroom:outbox', this.onOutbox);
  }

  async refresh() {
    const me = encodeURIComponent(this.ctx.user.username);
    const working = WORKING.map((s) => `status=${s}`).join('&');
    const outside = this.ctx.user.role === 'contractor'; // no alarms or equipment: own jobs only
    const none = { items: [] };
    const [mine, open, active, equipment, teamBuildings] = await Promise.all([
      api(`/api/work-orders?assignee=${me}&${working}&limit=500`),
      api('/api/work-orders?status=open&limit=500'),
      outside ? none : api('/api/alarms?state=active&limit=500'),
      outside ? none : api('/api/equipment'),
      this.teamBuildings === undefined ? this.loadTeamBuildings() : this.teamBuildings,
      loadWindows(),
    ]);
    this.teamBuildings = teamBuildings;
    this.jobs = new Map([...mine.items, ...open.items].map((wo) => [wo.id, wo]));
    this.alarms = new Map(active.items.map((a) => [a.id, a.state]));
    // a contractor picks among the buildings of their own jobs (they see no equipment)
    const places = outside ? [...mine.items, ...open.items].filter((wo) => wo.building) : equipment.items;
    this.buildings = [...new Set(places.map((e) => e.building))].sort();
    this.renderPicker();
    this.render();
    keepForOffline(mine.items);
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
    const summary = h('summary', {}, t('jobs.buildings', { which: this.summaryText(chosen) }));
    this.picker.replaceChildren(
      summary,
      h('fieldset', {}, h('legend', {}, t('jobs.buildings_legend')), h('ul', { class: 'checks' }, boxes)),
    );
  }

  summaryText(chosen) {
    const picked = this.buildings.filter((b) => chosen.has(b));
    if (picked.length === this.buildings.length) return t('jobs.buildings_all');
    return picked.length ? picked.join(t('common.list_separator')) : t('jobs.buildings_none');
  }

  pickBuildings() {
    const picked = [...this.picker.querySelectorAll('input:checked')].map((i) => i.value);
    localStorage.setItem(this.storageKey(), JSON.stringify(picked));
    this.picker.querySelector('summary').textContent = t('jobs.buildings', { which: this.summaryText(new Set(picked)) });
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
    const all = [...this.jobs.values()].map(overlay); // with the actions waiting to be sent
    const mine = all.filter((wo) => wo.assignee?.username === me && WORKING.includes(wo.status)).sort(compareJobs);
    const open = all
      .filter((wo) => wo.status === 'open' && !wo.assignee && (wo.building === null || chosen.has(wo.building)))
      .sort(compareJobs);
    const options = {
      key: (wo) => wo.id,
      signature: (wo) => `${jobSignature(wo, this.alarms)}|${maintenanceSignature(wo)}`,
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
