// On call: who answers for each team now, each rota's coming shifts and covers, and, for
// supervisors and admins, a form to put someone on call for a while (an override).

import { api } from './api.js';
import { announce, clockTime, h, timeEl } from './dom.js';

const OFFICE = new Set(['supervisor', 'admin']);
const SHIFTS = 7;

const who = (person) => person?.display_name || person?.username || 'nobody';

function person(label, value) {
  return h('p', { class: 'meta' }, `${label}: `, h('strong', {}, who(value)));
}

function shiftsTable(rota) {
  return h(
    'table',
    { class: 'values' },
    h('caption', {}, `Shifts (${rota.rotation}, hand-over ${rota.handover} ${rota.timezone})`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'From'), h('th', { scope: 'col' }, 'To'),
      h('th', { scope: 'col' }, 'On call'), h('th', { scope: 'col' }, 'Backup'))),
    h(
      'tbody',
      {},
      rota.shifts.map((s) =>
        h('tr', {}, h('td', {}, timeEl(s.starts_at)), h('td', {}, timeEl(s.ends_at)),
          h('td', {}, who(s.scheduled)), h('td', {}, who(s.backup))),
      ),
    ),
  );
}

function coversList(rota) {
  if (!rota.covers.length) return h('p', { class: 'meta' }, 'No overrides or swaps ahead.');
  return h(
    'ul',
    { class: 'covers' },
    rota.covers.map((c) =>
      h('li', {}, `${c.kind}: ${who(c.user)} `, timeEl(c.starts_at), ' → ', timeEl(c.ends_at),
        c.note ? ` (${c.note})` : null),
    ),
  );
}

// The override form: a member of the rota, from and until (local time of this browser).
function overrideForm(team, rota, view) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const id = `cover-${team}`;
  const user = h('select', { id: `${id}-user`, name: 'user', required: true },
    rota.members.map((m) => h('option', { value: m.username }, who(m))));
  const from = h('input', { id: `${id}-from`, name: 'from', type: 'datetime-local', required: true });
  const until = h('input', { id: `${id}-until`, name: 'until', type: 'datetime-local', required: true });
  const note = h('input', { id: `${id}-note`, name: 'note', maxlength: 256 });
  const form = h(
    'form',
    { class: 'override', 'aria-label': `Override for ${team}` },
    h('label', { for: user.id }, 'Who covers'), user,
    h('label', { for: from.id }, 'From'), from,
    h('label', { for: until.id }, 'Until'), until,
    h('label', { for: note.id }, 'Note'), note,
    h('button', { type: 'submit', class: 'primary' }, 'Add override'),
    error,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    try {
      await api(`/api/oncall/rotas/${encodeURIComponent(team)}/overrides`, {
        method: 'POST',
        body: {
          user: user.value,
          starts_at: new Date(from.value).toISOString(),
          ends_at: new Date(until.value).toISOString(),
          note: note.value || null,
        },
      });
      announce(`${user.value} is on call for ${team} from ${clockTime(new Date(from.value))}`);
      await view.refresh();
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  return form;
}

function teamCard(now, rota, view) {
  const id = `oncall-${now.team}`;
  return h(
    'li',
    { class: 'card' },
    h('h2', { class: 'card-title', id }, now.team, now.building ? ` · ${now.building}` : ''),
    now.has_rota
      ? [
          person('On call', now.primary),
          now.shift
            ? h('p', { class: 'meta' }, 'until ', timeEl(now.cover?.ends_at ?? now.shift.ends_at))
            : null,
          now.cover ? h('p', { class: 'meta' }, `(${now.cover.kind} by ${who(now.cover.created_by)})`) : null,
          person('Backup', now.backup),
        ]
      : h('p', { class: 'meta' }, 'No rota: jobs go to the whole team.'),
    person('Supervisor', now.supervisor),
    person('Manager', now.manager),
    rota ? [shiftsTable(rota), coversList(rota)] : null,
    rota && OFFICE.has(view.ctx.user?.role) ? overrideForm(now.team, rota, view) : null,
  );
}

export class OnCallView {
  constructor(ctx) {
    this.ctx = ctx;
    this.title = 'On call';
  }

  mount(main) {
    this.list = h('ul', { class: 'cards', 'aria-labelledby': 'oncall-h' });
    this.empty = h('p', { class: 'empty', hidden: true }, 'No teams yet.');
    main.replaceChildren(h('h1', { tabindex: -1, id: 'oncall-h' }, 'On call now'), this.empty, this.list);
  }

  async refresh() {
    const teams = await api('/api/oncall');
    const rotas = await Promise.all(
      teams.map((t) =>
        t.has_rota ? api(`/api/oncall/rotas/${encodeURIComponent(t.team)}?count=${SHIFTS}`) : null,
      ),
    );
    this.list.replaceChildren(...teams.map((t, i) => teamCard(t, rotas[i], this)));
    this.empty.hidden = teams.length > 0;
  }
}
