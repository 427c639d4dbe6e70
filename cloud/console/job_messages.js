// The messages a job sent (e-mail, chat, SMS: the outbox, docs/notifications.md): to whom, on
// which channel, how far each got and when. A section of the job page, loaded on its own.

import { api } from './api.js';
import { badge, h, timeEl } from './dom.js';

export function messagesSection(number) {
  const list = h('p', { class: 'meta' }, 'Loading…');
  const section = h(
    'section',
    { 'aria-labelledby': 'messages-h', class: 'messages' },
    h('h2', { id: 'messages-h' }, 'Messages sent'),
    list,
  );
  api(`/api/work-orders/${encodeURIComponent(number)}/notifications`)
    .then((rows) => list.replaceWith(rows.length ? h('ul', { class: 'message-list' }, rows.map(messageItem)) : h('p', { class: 'meta' }, 'No messages: nobody was told of this job by e-mail, chat or SMS.')))
    .catch((e) => list.replaceWith(h('p', { class: 'meta' }, `Messages could not be loaded: ${e.message}`)));
  return section;
}

function messageItem(row) {
  const when = row.acknowledged_at ?? row.sent_at ?? row.next_attempt_at;
  const what = row.acknowledged_at ? 'acknowledged' : row.sent_at ? 'sent' : row.status === 'failed' ? 'given up' : 'next try';
  return h(
    'li',
    { dataset: { status: row.status } },
    h('p', {}, h('strong', {}, row.username ?? `user ${row.user_id}`), ' · ', row.channel ?? '—', row.address ? ` ${row.address}` : '', ' ', badge('message', row.status)),
    h('p', { class: 'meta' }, `${row.kind} (${row.stage}) · ${what} `, timeEl(when), row.attempts > 1 ? ` · ${row.attempts} tries` : null),
    row.last_error && row.status !== 'sent' && row.status !== 'acknowledged' ? h('p', { class: 'pre note-text' }, row.last_error) : null,
  );
}
