// The actions on a job: which a user may take, their buttons, the note some of them ask for,
// and doing one through the API.

import { announce, h } from './dom.js';
import { t } from './i18n.js';
import { keptNotice, submit } from './outbox.js';

const FIELD_ROLES = new Set(['technician', 'supervisor', 'admin', 'contractor']);
// Roles that work only on the jobs they own (a contractor: their own team's jobs only).
const OWNERS_ONLY = new Set(['technician', 'contractor']);

// Each action's words are `action.<name>.<part>` in the catalog: its button (`text`), what is
// said once done (`done`), and for those that ask for a note its `label`, `hint` and `submit`.
const ACTIONS = {
  acknowledge: {},
  start: {},
  hold: { note: true },
  resume: {},
  resolve: { note: true },
};

const words = (action, part, vars) => t(`action.${action}.${part}`, vars);

export function actionsFor(wo, user) {
  if (!FIELD_ROLES.has(user.role)) return [];
  const mayWork = wo.assignee?.username === user.username || !OWNERS_ONLY.has(user.role);
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

// The buttons of the actions `ctx.user` may take on `wo`; null when there are none.
export function actionBar(wo, ctx) {
  const actions = actionsFor(wo, ctx.user);
  if (!actions.length) return null;
  const bar = h('div', { class: 'actions' });
  for (const action of actions) {
    const spec = ACTIONS[action];
    const button = h(
      'button',
      { type: 'button', class: action === actions[0] ? 'primary' : 'secondary', dataset: { action } },
      words(action, 'text'),
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
  const id = `job-${wo.id}-${action}-note`;
  // why resolving would be refused (409 sign_off_missing), said before it is tried
  const unsigned = action === 'resolve' && wo.sign_off_required && !wo.signed_at;
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
    h('label', { for: id }, words(action, 'label')),
    h('p', { id: `${id}-hint`, class: 'hint' }, unsigned ? `${t('signoff.required')} ${words(action, 'hint')}` : words(action, 'hint')),
    textarea,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, words(action, 'submit')),
      h('button', { type: 'button', class: 'secondary', onclick: close }, t('common.cancel')),
    ),
  );
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const note = textarea.value.trim();
    if (!note) {
      textarea.setCustomValidity(t('action.note_empty'));
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
    const done = await submit(wo.id, `/api/work-orders/${wo.id}/${action}`, { json: body });
    if (done.sent) announce(words(action, 'done', { number: done.answer.number }));
    else announce(keptNotice(done, 'outbox.kept', { number: wo.number }));
    ctx.changed(done.sent ? done.answer : wo, { focus: true });
    return true;
  } catch (error) {
    where.after(h('p', { class: 'card-error', role: 'alert' }, error.message));
    return false;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
