// What a person does from an equipment page or the alarm list: acknowledge an alarm, shelve
// it for a while with a reason (or put it back), and report a problem as a new request job.

import { api } from './api.js';
import { announce, h, showError, timeEl } from './dom.js';
import { t } from './i18n.js';

const SHELVE_MINUTES = [15, 60, 240, 480, 1440];

const isShelved = (alarm) => alarm.shelved_until !== null && Date.parse(alarm.shelved_until) > Date.now();

export const alarmActionSignature = (a) => [a.acknowledged, a.state, a.shelved_until ?? ''].join('|');

// The alarm's buttons, or its shelved note; `changed(alarm)` after a change is accepted.
export function alarmActions(alarm, changed) {
  const box = h('div', { class: 'actions alarm-actions' });
  const act = async (path, body, said) => {
    try {
      const updated = await api(`/api/alarms/${alarm.id}/${path}`, { method: 'POST', body });
      announce(said);
      changed(updated);
    } catch (e) {
      showError(e.message);
    }
  };
  if (!alarm.acknowledged) {
    box.append(
      h(
        'button',
        { type: 'button', class: 'primary', onclick: () => act('acknowledge', {}, t('alarm.acknowledged')) },
        t('alarm.acknowledge'),
      ),
    );
  }
  if (isShelved(alarm)) {
    box.append(
      h(
        'p',
        { class: 'shelved' },
        t('alarm.shelved_until', { who: alarm.shelved_by ?? '' }),
        ' ',
        timeEl(alarm.shelved_until),
        `: ${alarm.shelved_reason ?? ''}`,
      ),
      h('button', { type: 'button', onclick: () => act('unshelve', undefined, t('alarm.unshelved')) }, t('alarm.unshelve')),
    );
  } else if (alarm.state === 'active') {
    box.append(shelveForm(alarm, (body) => act('shelve', body, t('alarm.shelved'))));
  }
  return box;
}

function shelveForm(alarm, send) {
  const id = `shelve-${alarm.id}`;
  const minutes = h(
    'select',
    { id: `${id}-for`, name: 'minutes' },
    SHELVE_MINUTES.map((m) =>
      h('option', { value: m, selected: m === 60 }, m < 60 ? t('alarm.minutes', { n: m }) : t('alarm.hours', { n: m / 60 })),
    ),
  );
  const reason = h('input', { id: `${id}-why`, name: 'reason', required: true, minlength: 3, maxlength: 500 });
  const form = h(
    'form',
    { class: 'shelve' },
    h('div', { class: 'field' }, h('label', { for: minutes.id }, t('alarm.shelve_for')), minutes),
    h('div', { class: 'field' }, h('label', { for: reason.id }, t('alarm.shelve_reason')), reason),
    h('button', { type: 'submit' }, t('alarm.shelve_confirm')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    form.classList.remove('note'); // done: the list may show the shelved alarm now
    form.parentElement.open = false;
    send({ minutes: Number(minutes.value), reason: reason.value.trim() });
  });
  // while open, the form counts as work in progress: list updates keep it (dom.js busy())
  const box = h('details', { class: 'shelve-box' }, h('summary', {}, t('alarm.shelve')), form);
  box.addEventListener('toggle', () => form.classList.toggle('note', box.open));
  return box;
}

// The public report page of equipment `e`: /report/<id>?site=<site>.
export const reportPath = (e) => `/report/${encodeURIComponent(e.id)}${e.site ? `?site=${encodeURIComponent(e.site)}` : ''}`;

// "Report a problem": a request job on equipment `e` (of the equipment API) through the staff
// API, and the address of its public report page.
export function reportProblem(e, created) {
  const title = h('input', { id: 'report-title', name: 'title', required: true, maxlength: 200 });
  const details = h('textarea', { id: 'report-details', name: 'description', rows: 3, maxlength: 4000 });
  const form = h(
    'form',
    { class: 'report' },
    h('div', { class: 'field' }, h('label', { for: title.id }, t('equipment.report_what')), title),
    h('div', { class: 'field' }, h('label', { for: details.id }, t('equipment.report_details')), details),
    h('button', { type: 'submit', class: 'primary' }, t('equipment.report_send')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const job = await api('/api/work-orders', {
        method: 'POST',
        body: {
          title: title.value.trim(),
          description: details.value.trim() || undefined,
          equipment_id: e.id,
          site: e.site ?? undefined,
          building: e.building,
        },
      });
      form.reset();
      announce(t('equipment.report_created', { number: job.number }));
      created(job);
    } catch (e) {
      showError(e.message);
    }
  });
  return h(
    'section',
    { 'aria-labelledby': 'report-h' },
    h('h2', { id: 'report-h' }, t('equipment.report_heading')),
    form,
    h(
      'p',
      { class: 'hint' },
      t('equipment.report_public_note'),
      ' ',
      h('a', { href: reportPath(e) }, reportPath(e)),
    ),
  );
}
