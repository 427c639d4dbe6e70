// The messages a job sent (e-mail, chat, SMS: the outbox, docs/notifications.md): to whom, on
// which channel, how far each got and when. A section of the job page, loaded on its own.

import { api } from './api.js';
import { badge, h, timeEl } from './dom.js';
import { t, term } from './i18n.js';

export function messagesSection(number) {
  const list = h('p', { class: 'meta' }, t('common.loading'));
  const section = h(
    'section',
    { 'aria-labelledby': 'messages-h', class: 'messages' },
    h('h2', { id: 'messages-h' }, t('messages.heading')),
    list,
  );
  api(`/api/work-orders/${encodeURIComponent(number)}/notifications`)
    .then((rows) => list.replaceWith(rows.length ? h('ul', { class: 'message-list' }, rows.map(messageItem)) : h('p', { class: 'meta' }, t('messages.none'))))
    .catch((e) => list.replaceWith(h('p', { class: 'meta' }, t('messages.failed', { message: e.message }))));
  return section;
}

function messageItem(row) {
  const when = row.acknowledged_at ?? row.sent_at ?? row.next_attempt_at;
  const progress = row.acknowledged_at ? 'acknowledged' : row.sent_at ? 'sent' : row.status === 'failed' ? 'given_up' : 'next_try';
  const what = t(`messages.${progress}`);
  return h(
    'li',
    { dataset: { status: row.status } },
    h('p', {}, h('strong', {}, recipient(row)), ' · ', row.channel ?? '—', row.address ? ` ${row.address}` : '', ' ', badge('message', row.status)),
    h('p', { class: 'meta' }, `${t('messages.what', { kind: term('message_kind', row.kind), stage: stageWords(row.stage) })} · ${what} `, timeEl(when), row.attempts > 1 ? ` · ${t('messages.tries', { n: row.attempts })}` : null),
    row.last_error && row.status !== 'sent' && row.status !== 'acknowledged' ? h('p', { class: 'pre note-text' }, row.last_error) : null,
  );
}

// Whom a message was for: a person, or a contractor team's own address (no person).
function recipient(row) {
  if (row.username) return row.username;
  if (row.team) return t('messages.team', { team: row.team });
  return row.user_id == null ? '—' : t('messages.user', { id: row.user_id });
}

// A message's stage (docs/oncall.md: `dispatch`, `dispatch:2`, `<clock>:<n>`, `digest`, after a
// reopen `r<n>/…`) in words; one of another shape as the service wrote it.
function stageWords(stage) {
  const reopened = /^r(\d+)\/(.+)$/.exec(stage ?? '');
  if (reopened) return t('messages.stage.reopened', { stage: stageWords(reopened[2]), n: reopened[1] });
  if (stage === 'dispatch' || stage === 'digest') return t(`messages.stage.${stage}`);
  const [what, n, more] = String(stage ?? '').split(':');
  if (more !== undefined || !/^\d+$/.test(n ?? '')) return stage ?? '—';
  if (what === 'dispatch') return t('messages.stage.dispatch_again', { n });
  if (['acknowledge', 'on_site', 'complete'].includes(what)) return t('messages.stage.escalation', { n, clock: t(`messages.clock.${what}`) });
  return stage;
}
