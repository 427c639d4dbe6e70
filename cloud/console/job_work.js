// Working a job's checklist on a phone: each step answered pass / fail / N/A, with its
// reading (unit and limits shown, flagged at once when out of limits) and a note. Every
// change goes through the outbox (outbox.js): sent at once, or kept until there is signal.

import { announce, h } from './dom.js';
import { t, unitText } from './i18n.js';
import { keptNotice, submit } from './outbox.js';

const WORKING = new Set(['acknowledged', 'in_progress', 'on_hold']);

export function mayWork(wo, user) {
  if (!WORKING.has(wo.status)) return false;
  const owners = user.role === 'technician' || user.role === 'contractor';
  return user.role === 'supervisor' || user.role === 'admin' || (owners && wo.assignee?.username === user.username);
}

const unitOf = (reading) => unitText(reading.unit);

function limitsText(reading) {
  if (reading.min != null && reading.max != null) return t('checklist.range', { min: reading.min, max: reading.max, unit: unitOf(reading) });
  if (reading.min != null) return `≥ ${reading.min} ${unitOf(reading)}`;
  if (reading.max != null) return `≤ ${reading.max} ${unitOf(reading)}`;
  return null;
}

function outOfLimits(reading, value) {
  return (reading.min != null && value < reading.min) || (reading.max != null && value > reading.max);
}

// The checklist section, or null when the job has none. `ctx.changed(wo)` shows the answer.
export function checklistSection(wo, ctx) {
  if (!wo.checklist?.length) return null;
  const editable = mayWork(wo, ctx.user);
  const done = wo.checklist.filter((s) => s.done).length;
  return h(
    'section',
    { 'aria-labelledby': 'checklist-h', class: 'work checklist' },
    h('h2', { id: 'checklist-h' }, t('checklist.heading'), ' ', h('span', { class: 'count' }, t('checklist.progress', { done, total: wo.checklist.length }))),
    h('ol', { class: 'steps' }, wo.checklist.map((step, i) => stepItem(wo, step, i, editable, ctx))),
  );
}

function stepItem(wo, step, i, editable, ctx) {
  const id = `step-${i}`;
  const reading = step.reading;
  const state = h('p', { class: 'step-state', id: `${id}-state`, 'aria-live': 'polite' });
  const flag = (value) => {
    state.replaceChildren();
    state.className = 'step-state';
    if (reading && value !== null && value !== '' && Number.isFinite(Number(value)) && limitsText(reading)) {
      const out = outOfLimits(reading, Number(value));
      state.classList.add(out ? 'flag-out' : 'flag-in');
      state.append(out ? `⚠ ${t('checklist.out_of_limits')}` : `✓ ${t('checklist.in_limits')}`);
    }
    if (step.follow_up_job) state.append(h('span', { class: 'follow-up' }, t('checklist.follow_up', { number: step.follow_up_job })));
  };
  const item = h('li', { class: `step${step.done ? ` answered result-${step.result ?? 'pass'}` : ''}`, dataset: { step: i } });
  item.append(h('p', { class: 'step-text', id: `${id}-text` }, step.item));
  let input = null;
  if (reading) {
    const limits = limitsText(reading);
    input = h('input', {
      id: `${id}-value`, type: 'number', inputmode: 'decimal', step: 'any', name: 'value',
      value: step.value ?? '', disabled: !editable, 'aria-describedby': `${id}-limits ${id}-state`,
    });
    input.addEventListener('input', () => flag(input.value));
    item.append(
      h('div', { class: 'field reading' },
        h('label', { for: `${id}-value` }, t('checklist.reading', { unit: unitOf(reading) })),
        input,
        h('p', { class: 'hint', id: `${id}-limits` }, limits ? t('checklist.limits', { limits }) : t('checklist.no_limits'))),
    );
  }
  const note = h('textarea', { id: `${id}-note`, name: 'note', rows: 2, maxlength: 2000, disabled: !editable }, step.note ?? '');
  item.append(h('div', { class: 'field' }, h('label', { for: `${id}-note` }, t('checklist.note')), note));
  const error = h('p', { class: 'card-error', role: 'alert', hidden: true });
  const results = ['pass', 'fail', 'na'].map((result) => {
    const button = h('button', {
      type: 'button', class: `result result-${result}`, 'aria-pressed': String(step.result === result || (result === 'pass' && step.done && !step.result)),
      disabled: !editable, dataset: { result }, 'aria-describedby': `${id}-text`,
    }, t(`checklist.${result}`));
    button.addEventListener('click', () => answer(result));
    return button;
  });
  item.append(h('fieldset', { class: 'results' }, h('legend', {}, t('checklist.result')), h('div', { class: 'segmented' }, results)));
  if (step.done && step.by) item.append(h('p', { class: 'meta' }, t('checklist.answered', { result: t(`checklist.${step.result ?? 'pass'}`), by: step.by })));
  if (step.pending) item.append(h('p', { class: 'pending' }, t('outbox.not_sent')));
  item.append(state, error);
  flag(step.value ?? null);

  async function answer(result) {
    error.hidden = true;
    const body = { result, channel: 'console' };
    if (note.value.trim()) body.note = note.value.trim();
    if (input && input.value !== '') body.value = Number(input.value);
    if (result === 'fail' && !body.note) return complain(t('checklist.note_required'), note);
    if (input && result !== 'na' && body.value === undefined) return complain(t('checklist.value_required'), input);
    results.forEach((b) => { b.disabled = true; });
    try {
      const done = await submit(wo.id, `/api/work-orders/${wo.id}/steps/${i}`, { json: body });
      announce(done.sent ? t('checklist.saved', { n: i + 1 }) : keptNotice(done, 'checklist.kept', { n: i + 1 }));
      if (done.sent) ctx.changed(done.answer, { focusStep: i });
      else await ctx.reload({ focusStep: i });
    } catch (e) {
      complain(e.message);
      results.forEach((b) => { b.disabled = false; });
    }
  }

  function complain(text, field) {
    error.textContent = text;
    error.hidden = false;
    field?.focus();
  }
  return item;
}
