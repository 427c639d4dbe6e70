// The people who reported a job (occupants' reports and logged calls): how many, what each
// said, and their contact, which the API shows in full to the service desk (dispatchers,
// supervisors, admins) and masked to everyone else.

import { api } from './api.js';
import { h, timeEl } from './dom.js';

export function reportersSection(workOrderId) {
  const list = h('ul', { class: 'reporters' });
  const heading = h('h2', { id: 'reporters-h' }, 'Reported by');
  const section = h('section', { 'aria-labelledby': 'reporters-h', hidden: true }, heading, list);
  api(`/api/requests?work_order=${workOrderId}&limit=100`)
    .then((page) => {
      if (!page.total) return;
      heading.textContent = page.total === 1 ? 'Reported by 1 person' : `Reported by ${page.total} people`;
      list.replaceChildren(...page.items.map(reporter));
      section.hidden = false;
    })
    .catch(() => {}); // the job page stands without it
  return section;
}

function reporter(r) {
  const contact = [r.name, r.phone, r.email].filter(Boolean).join(' · ') || (r.contact_erased ? 'contact erased' : 'no contact');
  return h(
    'li',
    { dataset: { request: r.id } },
    h('p', {}, h('strong', {}, contact), ' · ', r.source === 'desk' ? 'call' : 'report', ' · ', timeEl(r.created_at)),
    h('p', { class: 'pre note-text' }, r.what),
    r.place ? h('p', { class: 'meta' }, r.place) : null,
    r.confirmation ? h('p', { class: 'meta' }, `Fixed? ${r.confirmation.replace('_', ' ')}`) : null,
  );
}
