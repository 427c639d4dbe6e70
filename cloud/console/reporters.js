// The people who reported a job (occupants' reports and logged calls): how many, what each
// said, and their contact, which the API shows in full to the service desk (dispatchers,
// supervisors, admins) and masked to everyone else.

import { api } from './api.js';
import { h, timeEl } from './dom.js';
import { t, term } from './i18n.js';

export function reportersSection(workOrderId) {
  const list = h('ul', { class: 'reporters' });
  const heading = h('h2', { id: 'reporters-h' }, t('reporters.heading'));
  const section = h('section', { 'aria-labelledby': 'reporters-h', hidden: true }, heading, list);
  api(`/api/requests?work_order=${workOrderId}&limit=100`)
    .then((page) => {
      if (!page.total) return;
      heading.textContent = page.total === 1 ? t('reporters.one') : t('reporters.many', { n: page.total });
      list.replaceChildren(...page.items.map(reporter));
      section.hidden = false;
    })
    .catch(() => {}); // the job page stands without it
  return section;
}

function reporter(r) {
  const contact = [r.name, r.phone, r.email].filter(Boolean).join(' · ') || t(r.contact_erased ? 'reporters.erased' : 'reporters.no_contact');
  return h(
    'li',
    { dataset: { request: r.id } },
    h('p', {}, h('strong', {}, contact), ' · ', t(r.source === 'desk' ? 'reporters.call' : 'reporters.report'), ' · ', timeEl(r.created_at)),
    h('p', { class: 'pre note-text' }, r.what),
    r.place ? h('p', { class: 'meta' }, r.place) : null,
    r.confirmation ? h('p', { class: 'meta' }, t('reporters.fixed', { answer: term('confirmation', r.confirmation) })) : null,
  );
}
