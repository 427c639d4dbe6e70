// On call: who answers for each team now, each rota's coming shifts and covers, and, for
// supervisors and admins, a form to put someone on call for a while (an override).

import { api } from './api.js';
import { announce, clockTime, h, personName, timeEl } from './dom.js';
import { fromInput, t, term, timeZone } from './i18n.js';

const OFFICE = new Set(['supervisor', 'admin']);
const SHIFTS = 7;

const who = personName;

function person(label, value) {
  return h('p', { class: 'meta' }, t('common.label', { label }), h('strong', {}, who(value)));
}

function shiftsTable(rota) {
  return h(
    'table',
    { class: 'values' },
    h('caption', {}, t('oncall.shifts', { rotation: term('rotation', rota.rotation), handover: rota.handover, zone: rota.timezone })),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('oncall.from')), h('th', { scope: 'col' }, t('oncall.to')),
      h('th', { scope: 'col' }, t('oncall.on_call')), h('th', { scope: 'col' }, t('oncall.backup')))),
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
  if (!rota.covers.length) return h('p', { class: 'meta' }, t('oncall.no_covers'));
  return h(
    'ul',
    { class: 'covers' },
    rota.covers.map((c) =>
      h('li', {}, `${term('cover', c.kind)}: ${who(c.user)} `, timeEl(c.starts_at), ' → ', timeEl(c.ends_at),
        c.note ? ` (${c.note})` : null),
    ),
  );
}

// The override form: a member of the rota, from and until (the site's time).
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
    { class: 'override', 'aria-label': t('oncall.override_for', { team }) },
    h('label', { for: user.id }, t('oncall.who_covers')), user,
    h('label', { for: from.id }, t('oncall.from_zone', { zone: timeZone() })), from,
    h('label', { for: until.id }, t('oncall.until_zone', { zone: timeZone() })), until,
    h('label', { for: note.id }, t('oncall.note')), note,
    h('button', { type: 'submit', class: 'primary' }, t('oncall.add_override')),
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
          starts_at: fromInput(from.value).toISOString(),
          ends_at: fromInput(until.value).toISOString(),
          note: note.value || null,
        },
      });
      announce(t('oncall.added', { name: user.value, team, from: clockTime(fromInput(from.value)) }));
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
          person(t('oncall.on_call'), now.primary),
          now.shift
            ? h('p', { class: 'meta' }, t('oncall.until'), ' ', timeEl(now.cover?.ends_at ?? now.shift.ends_at))
            : null,
          now.cover ? h('p', { class: 'meta' }, t('oncall.cover_by', { kind: term('cover', now.cover.kind), name: who(now.cover.created_by) })) : null,
          person(t('oncall.backup'), now.backup),
        ]
      : h('p', { class: 'meta' }, t('oncall.no_rota')),
    person(t('oncall.supervisor'), now.supervisor),
    person(t('oncall.manager'), now.manager),
    rota ? [shiftsTable(rota), coversList(rota)] : null,
    rota && OFFICE.has(view.ctx.user?.role) ? overrideForm(now.team, rota, view) : null,
  );
}

export class OnCallView {
  constructor(ctx) {
    this.ctx = ctx;
    this.title = t('nav.oncall');
  }

  mount(main) {
    this.list = h('ul', { class: 'cards', 'aria-labelledby': 'oncall-h' });
    this.empty = h('p', { class: 'empty', hidden: true }, t('oncall.no_teams'));
    main.replaceChildren(h('h1', { tabindex: -1, id: 'oncall-h' }, t('oncall.title')), this.empty, this.list);
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
