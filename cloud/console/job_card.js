// One job as a card (for the Jobs lists, one job's page and an equipment's page), its SLA
// line, and the order jobs are listed in.

import { badge, duration, h, timeEl } from './dom.js';
import { t } from './i18n.js';
import { actionBar } from './job_actions.js';
import { maintenanceChip } from './maintenance.js';
import { equipmentLink } from './sites.js';

const PRIORITY_RANK = { emergency: 0, urgent: 1, normal: 2, low: 3 };
export const WORKING = ['acknowledged', 'in_progress', 'on_hold'];

// What is due next: the response while a job is open, the fix after that.
export function dueOf(wo) {
  if (wo.status === 'open') return { what: 'respond', at: wo.respond_due_at };
  if (WORKING.includes(wo.status)) return { what: 'resolve', at: wo.resolve_due_at };
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
    t(`due.${el.dataset.what}_by`),
    ' ',
    timeEl(at),
    ' · ',
    h('strong', {}, t(left < 0 ? 'due.overdue' : 'due.left', { duration: duration(left) })),
  );
}

// Keep every SLA line on the page current.
export function tickDue(root) {
  for (const el of root.querySelectorAll('.due[data-due]')) paintDue(el);
}

function faultChip(wo, alarms) {
  if (wo.alarm_id === null || wo.alarm_id === undefined || !alarms.has(wo.alarm_id)) return null;
  const state = alarms.get(wo.alarm_id);
  return h('span', { class: `chip fault-${state}` }, t(state === 'active' ? 'jobs.fault_active' : 'jobs.fault_cleared'));
}

// The job's equipment: a link to its page, or its id alone for a contractor (who has none).
function equipmentRef(wo, ctx) {
  if (!wo.equipment_id) return null;
  if (ctx.user?.role === 'contractor') return wo.equipment_id;
  return equipmentLink(wo.equipment_id, wo.site);
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
        maintenanceChip(wo),
      ),
      h(headingLevel, { id: titleId, class: 'card-title' }, title),
      h(
        'p',
        { class: 'meta' },
        equipmentRef(wo, ctx),
        wo.equipment_id && wo.building ? ' · ' : null,
        wo.building ? t('equipment.building', { id: wo.building }) : null,
        wo.assignee ? ` · ${wo.assignee.display_name ?? wo.assignee.username}` : null,
      ),
      dueLine(wo),
      actionBar(wo, ctx),
    ),
  );
}
