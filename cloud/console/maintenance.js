// Maintenance mode in the console: on an equipment page, whether it is in maintenance (its own
// window or its building's) and, for supervisors, dispatchers and admins, starting one with a
// duration and a reason or ending it early; on job cards, "In maintenance until …".

import { api } from './api.js';
import { announce, h, showError, timeEl } from './dom.js';
import { t } from './i18n.js';

const MAY_SET = new Set(['supervisor', 'dispatcher', 'admin']);
const MINUTES = [30, 60, 120, 240, 480, 1440, 4320];

let running = []; // the windows running now, as last read

// Read the windows running now (the job cards' chips use them); offline, the last ones kept.
export async function loadWindows() {
  try {
    running = await api('/api/maintenance?current=true&limit=500');
  } catch {
    // keep what was read last
  }
  return running;
}

// Whether window `w` covers what `x` names (equipment, or a building): an equipment's window,
// that equipment at its site (an id is unique within its site only); else its building.
const covers = (w, x) =>
  w.equipment_id ? w.equipment_id === x.equipment_id && (!w.site || !x.site || w.site === x.site) : w.building === x.building;

// The window running now over `x` ({equipment_id, site, building}) that ends last, if any.
function longest(windows, x) {
  const now = Date.now();
  let found = null;
  for (const w of windows) {
    if (Date.parse(w.starts_at) > now || Date.parse(w.until) <= now) continue;
    if (covers(w, x) && (!found || Date.parse(w.until) > Date.parse(found.until))) found = w;
  }
  return found;
}

export const maintenanceSignature = (wo) => longest(running, wo)?.until ?? '';

// A job card's chip while its equipment (or building) is in maintenance, else null.
export function maintenanceChip(wo) {
  const w = longest(running, wo);
  if (!w) return null;
  return h('span', { class: 'chip maintenance', title: w.reason }, t('maintenance.until'), ' ', timeEl(w.until));
}

const span = (m) => (m % 1440 === 0 ? t('maintenance.days', { n: m / 1440 }) : m % 60 === 0 ? t('maintenance.hours', { n: m / 60 }) : t('maintenance.minutes', { n: m }));

// The equipment page's maintenance section; `refresh(equipment)` redraws it when what it
// shows changed (a form being filled in is kept), and says whether it did.
export class MaintenanceBox {
  constructor(user, changed) {
    this.user = user;
    this.changed = changed;
    this.shown = null;
    this.el = h('section', { class: 'maintenance', 'aria-labelledby': 'eq-maint-h' });
  }

  async refresh(equipment) {
    const site = equipment.site ? `&site=${encodeURIComponent(equipment.site)}` : '';
    const windows = await api(`/api/maintenance?current=true&equipment_id=${encodeURIComponent(equipment.id)}${site}`);
    // what the job cards know of this equipment's windows, from this answer
    const here = { equipment_id: equipment.id, site: equipment.site, building: equipment.building };
    running = [...running.filter((w) => !covers(w, here)), ...windows];
    const w = longest(windows, here);
    const shown = w ? `${w.id}|${w.until}` : '-';
    if (shown === this.shown) return false;
    this.shown = shown;
    const may = MAY_SET.has(this.user.role);
    const parts = [
      h('h2', { id: 'eq-maint-h' }, t('maintenance.heading')),
      w ? this.current(w, may) : h('p', { class: 'empty' }, t('maintenance.none')),
    ];
    if (!w && may) parts.push(this.form(equipment));
    this.el.replaceChildren(...parts);
    return true;
  }

  current(w, may) {
    const end = async () => {
      try {
        await api(`/api/maintenance/${w.id}/end`, { method: 'POST', body: {} });
        announce(t('maintenance.ended'));
        this.changed();
      } catch (e) {
        showError(e.message);
      }
    };
    return h(
      'div',
      {},
      h(
        'p',
        { class: 'in-maintenance' },
        t('maintenance.until'),
        ' ',
        timeEl(w.until),
        `: ${w.reason} `,
        h('span', { class: 'meta' }, t('maintenance.by', { who: w.created_by })),
      ),
      may ? h('button', { type: 'button', onclick: end }, t('maintenance.end')) : null,
    );
  }

  form(equipment) {
    const minutes = h(
      'select',
      { id: 'maint-for', name: 'minutes' },
      MINUTES.map((m) => h('option', { value: m, selected: m === 240 }, span(m))),
    );
    const reason = h('input', { id: 'maint-why', name: 'reason', required: true, minlength: 3, maxlength: 500 });
    const form = h(
      'form',
      { class: 'maintenance-start' },
      h('div', { class: 'field' }, h('label', { for: minutes.id }, t('maintenance.for')), minutes),
      h('div', { class: 'field' }, h('label', { for: reason.id }, t('maintenance.reason')), reason),
      h('button', { type: 'submit' }, t('maintenance.start')),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await api('/api/maintenance', {
          method: 'POST',
          body: { equipment_id: equipment.id, site: equipment.site ?? undefined, minutes: Number(minutes.value), reason: reason.value.trim() },
        });
        announce(t('maintenance.started'));
        this.changed();
      } catch (e) {
        showError(e.message);
      }
    });
    return form;
  }
}
