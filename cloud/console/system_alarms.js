// The banner of system alarms: problems of the service itself (an edge agent's clock, ...),
// shown above every view while any is active; a supervisor or an admin acknowledges them.

import { api } from './api.js';
import { badge, h, showError, timeEl } from './dom.js';
import { t } from './i18n.js';

const SHOWN = 5; // alarms listed in the banner; the rest are counted
const POLL_MS = 30000; // how often the banner looks again
const ACK_ROLES = new Set(['supervisor', 'admin']);

export class SystemAlarmBanner {
  constructor(box, user) {
    this.box = box;
    this.user = user;
    this.timer = null;
  }

  start() {
    this.refresh();
    this.timer = setInterval(() => this.refresh(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.box.hidden = true;
    this.box.replaceChildren();
  }

  async refresh() {
    let page;
    try {
      page = await api(`/api/system-alarms?state=active&limit=${SHOWN}`);
    } catch {
      return; // the view's own requests say when the service cannot be reached
    }
    this.render(page);
  }

  render(page) {
    this.box.hidden = page.total === 0;
    const more = page.total - page.items.length;
    const rest = more > 0 ? [h('p', { class: 'meta' }, t('system.more', { n: more }))] : [];
    this.box.replaceChildren(
      h('h2', { class: 'visually-hidden' }, t('system.heading')),
      h('ul', {}, page.items.map((alarm) => this.item(alarm))),
      ...rest,
    );
  }

  item(alarm) {
    const mayAck = ACK_ROLES.has(this.user.role) && !alarm.acknowledged;
    return h(
      'li',
      {},
      h(
        'div',
        { class: 'card-head' },
        badge('severity', alarm.severity),
        h('strong', {}, alarm.subject),
        h('span', { class: 'meta' }, t('system.since'), ' ', timeEl(alarm.raised_at)),
        alarm.acknowledged ? h('span', { class: 'chip' }, t('system.seen_by', { name: alarm.acknowledged_by })) : null,
      ),
      h('p', {}, alarm.message),
      mayAck
        ? h(
            'button',
            {
              type: 'button',
              onclick: async () => {
                try {
                  await api(`/api/system-alarms/${alarm.id}/acknowledge`, { method: 'POST', body: {} });
                } catch (error) {
                  showError(error.message);
                }
                this.refresh();
              },
            },
            t('alarm.acknowledge'),
          )
        : null,
    );
  }
}
