// The supervisor board: the jobs that need a supervisor (nobody has them, a clock is past due
// or in its last fifth, or the work is done and waits to be verified), grouped by team and
// building, with who is on call for each team and the supervisor's actions on each job.

import { api } from './api.js';
import { announce, badge, h, personName, timeEl } from './dom.js';
import { fromInput, t, toInput } from './i18n.js';
import { equipmentLabel } from './sites.js';

export const OFFICE = new Set(['supervisor', 'admin']);
const LIMIT = 200; // jobs per list; the board says when there are more
const LIVE = ['open', 'acknowledged', 'in_progress', 'on_hold'];

// Each list the board reads, with the tag its jobs get.
const LISTS = [
  ['unassigned', `unassigned=true&${LIVE.map((s) => `status=${s}`).join('&')}`],
  ['overdue', 'overdue=true'],
  ['at_risk', 'at_risk=true'],
  ['to_verify', 'status=resolved'],
];

const who = personName;

export class BoardView {
  constructor(ctx) {
    this.ctx = ctx;
    this.title = t('board.title');
  }

  mount(main) {
    this.main = main;
    this.body = h('div', { class: 'board' }, h('p', { class: 'meta' }, t('board.loading')));
    main.replaceChildren(h('h1', { tabindex: -1 }, t('board.title')), this.body);
  }

  unmount() {
    clearTimeout(this.later);
  }

  // A job changed somewhere: read the board again, unless someone is filling in a form.
  workOrder() {
    clearTimeout(this.later);
    this.later = setTimeout(() => {
      if (this.main?.querySelector('form.board-form:focus-within')) this.workOrder();
      else this.refresh();
    }, 500);
  }

  async refresh() {
    if (!OFFICE.has(this.ctx.user.role)) {
      this.body.replaceChildren(h('p', { class: 'form-error' }, t('board.office_only')));
      return;
    }
    const [lists, teams, onCall] = await Promise.all([
      Promise.all(LISTS.map(([, q]) => api(`/api/work-orders?${q}&limit=${LIMIT}`))),
      api('/api/teams'),
      api('/api/oncall'),
    ]);
    const jobs = new Map();
    let more = false;
    lists.forEach((page, i) => {
      more ||= page.total > page.items.length;
      for (const wo of page.items) {
        const seen = jobs.get(wo.id) ?? { wo, tags: [] };
        seen.tags.push(LISTS[i][0]);
        jobs.set(wo.id, seen);
      }
    });
    this.members = new Map(teams.items.map((team) => [team.name, team.members]));
    this.onCall = new Map(onCall.map((row) => [row.team, row]));
    this.render([...jobs.values()], more);
  }

  render(jobs, more) {
    const byTeam = new Map();
    for (const job of jobs) {
      const team = job.wo.team ?? '';
      if (!byTeam.has(team)) byTeam.set(team, new Map());
      const buildings = byTeam.get(team);
      const building = job.wo.building ?? '';
      if (!buildings.has(building)) buildings.set(building, []);
      buildings.get(building).push(job);
    }
    const teams = [...new Set([...this.onCall.keys(), ...byTeam.keys()])].sort();
    const summary = h('p', { class: 'meta', role: 'status' }, t('board.summary', { count: jobs.length }));
    const over = more ? [h('p', { class: 'form-error' }, t('board.more', { limit: LIMIT }))] : [];
    this.body.replaceChildren(
      summary,
      ...over,
      ...teams.map((team) => this.teamSection(team, byTeam.get(team) ?? new Map())),
    );
  }

  teamSection(team, buildings) {
    const id = `board-team-${team || 'none'}`;
    const duty = this.onCall.get(team);
    return h(
      'section',
      { class: 'board-team', 'aria-labelledby': id },
      h('h2', { id }, team || t('board.no_team')),
      duty
        ? h('p', { class: 'meta on-call' }, t('board.on_call', { name: who(duty.primary) }),
          duty.backup ? ` · ${t('board.backup', { name: who(duty.backup) })}` : null)
        : null,
      buildings.size
        ? [...buildings.keys()].sort().map((building) =>
          h('div', { class: 'board-building' },
            h('h3', {}, building || t('board.no_building')),
            h('ul', { class: 'cards' }, buildings.get(building).map((job) => this.card(job, team)))))
        : h('p', { class: 'empty' }, t('board.team_clear')),
    );
  }

  card({ wo, tags }, team) {
    const error = h('p', { class: 'card-error', role: 'alert' });
    const titleId = `board-wo-${wo.id}`;
    const card = h(
      'li',
      { class: `card priority-${wo.priority}`, dataset: { number: wo.number }, 'aria-labelledby': titleId },
      h('div', { class: 'card-head' },
        h('a', { href: `#/jobs/${wo.id}` }, wo.number),
        badge('priority', wo.priority),
        badge('status', wo.status),
        tags.map((tag) => h('span', { class: `chip board-${tag}` }, t(`board.tag.${tag}`)))),
      h('p', { class: 'card-title', id: titleId }, wo.title),
      h('p', { class: 'meta' }, t('board.assignee', { name: who(wo.assignee) }),
        wo.equipment_id ? ` · ${equipmentLabel(wo.equipment_id, wo.site)}` : null),
      wo.resolve_due_at
        ? h('p', { class: 'meta' }, t('board.due'), ' ', timeEl(wo.resolve_due_at),
          wo.postponements ? ` · ${t('board.postponed')}` : null)
        : null,
      error,
    );
    const act = async (path, body, done) => {
      error.textContent = '';
      try {
        await api(`/api/work-orders/${wo.id}/${path}`, { method: 'POST', body: { channel: 'console', ...body } });
        announce(done);
        await this.refresh();
      } catch (failure) {
        error.textContent = t('board.refused', { message: failure.message });
      }
    };
    const actions = h('div', { class: 'board-actions' });
    if (LIVE.includes(wo.status)) {
      actions.append(
        this.assignForm(wo, team, act),
        this.noteForm(wo, 'postpone', act, { until: true }),
        this.noteForm(wo, 'cancel', act),
      );
    } else if (wo.status === 'resolved') {
      actions.append(h('button', {
        type: 'button',
        class: 'primary',
        'aria-describedby': titleId,
        onclick: () => act('close', {}, t('board.closed', { number: wo.number })),
      }, t('board.close')));
    }
    card.append(actions);
    return card;
  }

  assignForm(wo, team, act) {
    const id = `board-assign-${wo.id}`;
    const people = this.members.get(team) ?? [];
    const select = h('select', { id, name: 'assignee', required: true },
      people.map((m) => h('option', { value: m.username, selected: m.username === wo.assignee?.username }, who(m))));
    const form = h('form', { class: 'board-form inline' },
      h('label', { for: id }, t('board.assign_to')), select,
      h('button', { type: 'submit', class: 'secondary' }, wo.assignee ? t('board.reassign') : t('board.assign')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const name = select.selectedOptions[0]?.textContent ?? select.value;
      act('assign', { assignee: select.value }, t('board.assigned', { number: wo.number, name }));
    });
    if (!people.length) select.disabled = true;
    return form;
  }

  // Postpone (a new promised completion and a reason) or cancel (a reason), in a details.
  noteForm(wo, action, act, { until = false } = {}) {
    const id = `board-${action}-${wo.id}`;
    const fields = [];
    let untilInput = null;
    if (until) {
      const start = new Date(Math.max(Date.now(), new Date(wo.resolve_due_at ?? Date.now()).getTime()) + 86400000);
      untilInput = h('input', { id: `${id}-until`, name: 'until', type: 'datetime-local', required: true, value: toInput(start) });
      fields.push(h('label', { for: untilInput.id }, t('board.until')), untilInput);
    }
    const reason = h('input', { id: `${id}-reason`, name: 'reason', required: true, maxlength: 2000 });
    const form = h('form', { class: 'board-form' },
      ...fields,
      h('label', { for: reason.id }, t(`board.${action}_reason`)), reason,
      h('button', { type: 'submit', class: action === 'cancel' ? 'danger' : 'primary' }, t(`board.${action}`)));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = { note: reason.value.trim() };
      if (untilInput) body.until = fromInput(untilInput.value).toISOString();
      act(action, body, t(`board.${action}_done`, { number: wo.number }));
    });
    return h('details', { class: 'picker board-more' }, h('summary', {}, t(`board.${action}_open`)), form);
  }
}
