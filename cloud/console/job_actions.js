// The actions on a job: which a user may take, their buttons, the note some of them ask for,
// and doing one through the API.

import { announce, h } from './dom.js';
import { t } from './i18n.js';
import { submit } from './outbox.js';

const FIELD_ROLES = new Set(['technician', 'supervisor', 'admin', 'contractor']);
// Roles that work only on the jobs they own (a contractor: their own team's jobs only).
const OWNERS_ONLY = new Set(['technician', 'contractor']);

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
    h('label', { for: id }, spec.label),
    h('p', { id: `${id}-hint`, class: 'hint' }, unsigned ? `${t('signoff.required')} ${spec.hint}` : spec.hint),
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
    const done = await submit(wo.id, `/api/work-orders/${wo.id}/${action}`, { json: body });
    if (done.sent) announce(`${done.answer.number} ${ACTIONS[action].done}.`);
    else announce(t('outbox.kept', { number: wo.number }));
    ctx.changed(done.sent ? done.answer : wo, { focus: true });
    return true;
  } catch (error) {
    where.after(h('p', { class: 'card-error', role: 'alert' }, error.message));
    return false;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
