// What the page shows of the actions kept on the device: the header's "3 waiting to send",
// and on a job whose actions the service refused, what it said and what to do about them.

import { announce, h } from './dom.js';
import { t } from './i18n.js';
import { counts, discard, entries, retry } from './outbox.js';

// Keep `box` (the header's status line) saying what is waiting to be sent.
export function showOutbox(box) {
  const paint = () => {
    const { waiting, held } = counts();
    const parts = [];
    if (waiting) parts.push(t('outbox.waiting', { n: waiting }));
    if (held) parts.push(t('outbox.held', { n: held }));
    box.textContent = parts.join(' · ');
    box.dataset.state = held ? 'held' : 'waiting';
    box.hidden = parts.length === 0;
  };
  window.addEventListener('plantroom:outbox', paint);
  paint();
  return () => window.removeEventListener('plantroom:outbox', paint);
}

// The notice on job `job` when the service refused one of its queued actions; null otherwise.
export function heldNotice(job) {
  const held = entries(job).filter((e) => e.state === 'held');
  if (!held.length) return null;
  const refused = held.find((e) => e.error) ?? held[0];
  const conflict = refused.error?.status === 409;
  const act = (button, work, said) => button.addEventListener('click', async () => {
    button.disabled = true;
    await work(job);
    announce(said);
  });
  const discardButton = h('button', { type: 'button', class: 'secondary' }, t('outbox.discard'));
  const retryButton = h('button', { type: 'button', class: 'primary' }, t('outbox.retry'));
  act(discardButton, discard, t('outbox.discarded'));
  act(retryButton, retry, t('outbox.retried'));
  return h(
    'section',
    { class: 'held', role: 'alert', 'aria-labelledby': 'held-h' },
    h('h2', { id: 'held-h' }, conflict ? t('outbox.conflict') : t('outbox.refused')),
    h('p', {}, t('outbox.said', { message: refused.error?.message ?? '' })),
    h('p', {}, t('outbox.held_count', { n: held.length })),
    h('ul', { class: 'held-list' }, held.map((e) => h('li', {}, describe(e)))),
    h('div', { class: 'actions' }, retryButton, discardButton),
  );
}

function describe(entry) {
  const [what, index] = entry.path.split('/').slice(4);
  if (what === 'steps') return t('outbox.what.step', { n: Number(index) + 1, result: t(`checklist.${entry.json.result}`) });
  return t(`outbox.what.${what}`);
}
